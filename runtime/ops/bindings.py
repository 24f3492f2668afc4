"""``verify``'s binding check: the topology's bindings against the broker's (pure, no I/O).

The broker's bindings come from the management API (``management_api``); only those whose
source is an exchange the topology declares are compared, so the default exchange's implicit
bindings and other applications' exchanges never count as drift.
"""

from __future__ import annotations

from collections.abc import Iterable

from mqwire.topology.declarations import Declarations

from .admin import Finding
from .management_api import LiveBinding


def binding_name(exchange: str, destination: str, routing_key: str, kind: str = "queue") -> str:
    """How a binding is named in ``verify``'s report: ``exchange -> queue [key]``."""
    target = destination if kind == "queue" else f"{kind} {destination}"
    return f"{exchange} -> {target} [{routing_key}]"


Key = tuple[str, str, str, str]  #: (exchange, destination type, destination, routing key)


def compare_bindings(plan: Declarations, live: Iterable[LiveBinding]) -> list[Finding]:
    """One finding per binding: ``ok``, ``missing`` (declared, not on the broker) or ``extra``
    (on an exchange of the topology, not declared by it); sorted by name."""
    exchanges = {e.name for e in plan.exchanges}
    wanted: set[Key] = {(b.exchange, "queue", b.queue, b.routing_key) for b in plan.bindings}
    present: set[Key] = {
        (b.exchange, b.destination_type, b.destination, b.routing_key)
        for b in live
        if b.exchange in exchanges
    }
    findings = []
    for key in wanted | present:
        state = "extra" if key not in wanted else "ok" if key in present else "missing"
        exchange, kind, destination, routing_key = key
        name = binding_name(exchange, destination, routing_key, kind)
        findings.append(Finding("binding", name, state))
    return sorted(findings, key=lambda f: f.name)
