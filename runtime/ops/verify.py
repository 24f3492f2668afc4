"""What ``verify`` finds, and its binding check: the topology's bindings against the broker's.

Pure, no I/O. The broker's bindings come from the management API (``management_api``); only
those whose source is an exchange the topology declares are compared, so the default
exchange's implicit bindings and other applications' exchanges never count as drift.
``mserve``'s start-up check uses this too, so it imports nothing of ``mqctl``'s formatting.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mqwire.topology.declarations import Declarations, owns_binding

from .management_api import LiveBinding


@dataclass(frozen=True)
class Finding:
    """One thing ``verify`` looked at: ``state`` is ``ok``, ``missing``, ``differs`` or
    ``extra`` (a binding on a topology exchange that the topology does not declare)."""

    kind: str  #: exchange, queue or binding
    name: str
    state: str
    detail: str = ""

    @property
    def drift(self) -> bool:
        return self.state != "ok"


#: What ``verify`` cannot see over AMQP, said every time it runs without the management API.
UNVERIFIABLE = (
    "AMQP cannot list bindings (the management API can; it was not used), "
    "nor objects on the broker that the topology does not declare"
)

#: What ``verify`` cannot see even with the management API.
UNCHECKED_WITH_API = "queues and exchanges on the broker that the topology does not declare"


def binding_name(exchange: str, destination: str, routing_key: str, kind: str = "queue") -> str:
    """How a binding is named in ``verify``'s report: ``exchange -> queue [key]``."""
    target = destination if kind == "queue" else f"{kind} {destination}"
    return f"{exchange} -> {target} [{routing_key}]"


Key = tuple[str, str, str, str]  #: (exchange, destination type, destination, routing key)


def live_key(b: LiveBinding) -> Key:
    return (b.exchange, b.destination_type, b.destination, b.routing_key)


def compared(plan: Declarations, live: Iterable[LiveBinding]) -> dict[Key, LiveBinding]:
    """The live bindings ``plan`` answers for: on its exchanges, and declared by it or its
    business (``owns_binding``: not another topology's on the shared delay ladder)."""
    exchanges = {e.name for e in plan.exchanges}
    wanted = {b.key for b in plan.bindings}
    found: dict[Key, LiveBinding] = {}
    for b in live:
        key = live_key(b)
        if b.exchange not in exchanges:
            continue
        if key in wanted or owns_binding(plan, b.exchange, b.destination, b.routing_key):
            found[key] = b
    return found


def compare_bindings(plan: Declarations, live: Iterable[LiveBinding]) -> list[Finding]:
    """One finding per binding: ``ok``, ``missing`` (declared, not on the broker) or ``extra``
    (on an exchange of the topology, not declared by it); sorted by name."""
    wanted: set[Key] = {b.key for b in plan.bindings}
    present = set(compared(plan, live))
    findings = []
    for key in wanted | present:
        state = "extra" if key not in wanted else "ok" if key in present else "missing"
        exchange, kind, destination, routing_key = key
        name = binding_name(exchange, destination, routing_key, kind)
        findings.append(Finding("binding", name, state))
    return sorted(findings, key=lambda f: f.name)
