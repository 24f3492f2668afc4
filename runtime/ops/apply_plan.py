"""What ``mqctl apply`` will do on one broker, worked out from what it saw there (pure).

The plan is the worker's own (``declarations``); what the broker already has comes from
passive declares (exchanges, queues) and, when it answers, the management API (bindings).
Steps are classified like ``mq-compile diff``'s changes, most dangerous first, so a
reviewer reads a dry run the way they read the diff of the topology that caused it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from mqwire.topology.declarations import Declarations

from .management_api import LiveBinding
from .verify import Key, binding_name, compared

StepClass = Literal["incompatible", "destructive", "additive", "other", "unchanged"]

#: Classes in report order, with their section titles (``mq-compile diff``'s, where shared).
CLASSES: tuple[StepClass, ...] = ("incompatible", "destructive", "additive", "other")
TITLES: Mapping[StepClass, str] = {
    "incompatible": "broker-incompatible",
    "destructive": "destructive",
    "additive": "additive",
    "other": "other",
    "unchanged": "unchanged",
}

#: A binding declared without the management API: whether it was already there is not known.
UNKNOWN = "declared (new or not: unknown without the management API)"


@dataclass(frozen=True)
class Seen:
    """What one broker holds of the plan, before anything is changed.

    ``exchanges`` and ``queues``: each existing one by name, with the broker's 406 text when
    it holds it with other arguments ("" when equivalent); absent names do not exist.
    ``bindings``: every binding of the vhost, or None without the management API.
    """

    exchanges: Mapping[str, str]
    queues: Mapping[str, str]
    bindings: Sequence[LiveBinding] | None


@dataclass(frozen=True)
class Step:
    """One object of the plan and what ``apply`` does with it; ``unbind`` for a prune."""

    cls: StepClass
    kind: str  #: exchange, queue or binding
    name: str
    summary: str
    unbind: LiveBinding | None = None


def plan_steps(plan: Declarations, seen: Seen, *, prune: bool) -> list[Step]:
    """Every declaration of ``plan`` and every extra binding, classified, in report order."""
    steps: list[Step] = []
    for exchange in plan.exchanges:
        steps.append(_existing("exchange", exchange.name, seen.exchanges, "new topic exchange"))
    for queue in plan.queues:
        if queue.exclusive:  # it would belong to mqctl's connection, and vanish with it
            steps.append(Step("other", "queue", queue.name, "exclusive: its consumer declares it"))
        else:
            steps.append(_existing("queue", queue.name, seen.queues, "new queue"))
    live = None if seen.bindings is None else _on_exchanges(plan, seen.bindings)
    wanted = {b.key for b in plan.bindings}
    for b in plan.bindings:
        name = binding_name(b.exchange, b.queue, b.routing_key, b.destination_type)
        if live is None:
            steps.append(Step("other", "binding", name, UNKNOWN))
        elif b.key in live:
            steps.append(Step("unchanged", "binding", name, "already there"))
        else:
            steps.append(Step("additive", "binding", name, "new binding"))
    for key, extra in sorted((live or {}).items()):
        if key in wanted:
            continue
        name = binding_name(extra.exchange, extra.destination, extra.routing_key, key[1])
        if prune:
            steps.append(
                Step(
                    "destructive",
                    "binding",
                    name,
                    "not in the topology: to remove (--prune)",
                    extra,
                )
            )
        else:
            summary = "not in the topology: kept (--prune removes it)"
            steps.append(Step("other", "binding", name, summary))
    return sorted(steps, key=_order)


def _existing(kind: str, name: str, found: Mapping[str, str], new: str) -> Step:
    if name not in found:
        return Step("additive", kind, name, new)
    if found[name]:
        return Step("incompatible", kind, name, f"exists with other arguments: {found[name]}")
    return Step("unchanged", kind, name, "already there")


def _on_exchanges(plan: Declarations, live: Sequence[LiveBinding]) -> dict[Key, LiveBinding]:
    """The broker's bindings whose source is one of the plan's exchanges (never the default),
    less other topologies' on the shared delay ladder (``verify.compared``)."""
    return compared(plan, live)


_KINDS = ("exchange", "queue", "binding")


def _order(step: Step) -> tuple[int, int, str]:
    rank = (*CLASSES, "unchanged").index(step.cls)
    return rank, _KINDS.index(step.kind), step.name


def counts(steps: Sequence[Step]) -> dict[StepClass, int]:
    return {cls: sum(s.cls == cls for s in steps) for cls in (*CLASSES, "unchanged")}


def summary_line(steps: Sequence[Step]) -> str:
    """``0 broker-incompatible, 1 destructive, 3 additive, 0 other, 12 unchanged``."""
    per_class = counts(steps)
    return ", ".join(f"{per_class[c]} {TITLES[c]}" for c in (*CLASSES, "unchanged"))


def render_plan(where: str, steps: Sequence[Step], *, checked_extras: bool) -> str:
    """The plan for broker ``where`` as text: the summary, then one section per class.

    Unchanged objects are counted, not listed. ``checked_extras``: the broker's bindings were
    read, so bindings the topology does not have were looked for (else a note says not).
    """
    lines = [f"broker {where}", summary_line(steps)]
    for cls in CLASSES:
        section = [s for s in steps if s.cls == cls]
        if section:
            lines += ["", f"{TITLES[cls]}:"]
            lines += [f"  {s.kind} {s.name}: {s.summary}" for s in section]
    if not checked_extras:
        lines += ["", "not checked: bindings on the broker that the topology does not have "
                  "(the management API was not used)"]  # fmt: skip
    return "\n".join([*lines, ""])


def done_line(steps: Sequence[Step]) -> str:
    """What was changed, once applied: ``created 1 exchange, 4 queues, 2 bindings; ...``."""
    made = [s for s in steps if s.cls == "additive"]
    created = [f"{n} {k}{'s' if n != 1 else ''}" for k in _KINDS
               if (n := sum(s.kind == k for s in made))]  # fmt: skip
    removed = sum(s.cls == "destructive" for s in steps)
    unchanged = counts(steps)["unchanged"]
    parts = [f"created {', '.join(created)}" if created else "created nothing"]
    if removed:
        parts.append(f"removed {removed} binding{'s' if removed != 1 else ''}")
    unknown = sum(s.summary == UNKNOWN for s in steps)
    if unknown:
        parts.append(
            f"declared {unknown} binding{'s' if unknown != 1 else ''} (new or not: unknown)"
        )
    parts.append(f"{unchanged} already there")
    return "; ".join(parts)
