"""What ``AmqpSession.declare`` sends, step by step, and which error it reports.

A worker's start-up declares its exchanges, then its queues (retry and dead-letter ones
included), each followed by the bindings to it. A step's chains of calls are dealt over up to
``DECLARING_CHANNELS`` channels that run at once: the broker creates queues in parallel, where
one channel waits for each in turn, which was most of a worker's start-up on a fresh vhost; and
a queue's bindings follow it on its channel rather than wait for the slowest queue of all (a
priority queue takes twice as long to create as a plain one). When the broker refuses one call
it closes that channel, and the session fails every call still waiting, on every channel: the
error reported is the refused call's, not one of theirs.
"""

from __future__ import annotations

import asyncio
from typing import Any

from mqwire.topology.declarations import BindingDeclaration, Declarations

#: Channels a start-up's declarations are spread over, at most.
DECLARING_CHANNELS = 16

#: One pika call: what it does (for errors), the ``Channel`` method, its keyword arguments.
Call = tuple[str, str, dict[str, Any]]
#: Calls one channel makes in turn.
Chain = tuple[Call, ...]


def declaring_steps(plan: Declarations) -> tuple[list[Chain], list[Chain]]:
    """The exchanges of ``plan``; then each queue followed by the bindings to it, and each
    binding to an exchange or to a queue the plan does not declare; in the plan's order."""
    first: list[Chain] = [
        ((f"declaring exchange {x.name!r}", "exchange_declare",
          {"exchange": x.name, "exchange_type": x.type, "durable": x.durable}),)
        for x in plan.exchanges
    ]  # fmt: skip
    declared = {q.name for q in plan.queues}
    to_queue: dict[str, list[Call]] = {}
    others: list[Chain] = []
    for b in plan.bindings:
        if b.destination_type == "queue" and b.queue in declared:
            to_queue.setdefault(b.queue, []).append(_binding(b))
        else:
            others.append((_binding(b),))
    then: list[Chain] = [
        ((f"declaring queue {q.name!r}", "queue_declare", q.declare_kwargs()),
         *to_queue.get(q.name, ()))
        for q in plan.queues
    ]  # fmt: skip
    return first, then + others


def _binding(b: BindingDeclaration) -> Call:
    what = f"declaring the binding {b.exchange!r} -> {b.queue!r} ({b.routing_key!r})"
    if b.destination_type == "exchange":
        return what, "exchange_bind", {"destination": b.queue, "source": b.exchange,
                                       "routing_key": b.routing_key}  # fmt: skip
    return what, "queue_bind", {"queue": b.queue, "exchange": b.exchange,
                                "routing_key": b.routing_key}  # fmt: skip


def lanes(first: list[Chain], then: list[Chain], channel_max: int = 0, keep_free: int = 0) -> range:
    """The channels to open: one per chain of the longer step, within ``DECLARING_CHANNELS``
    and within ``channel_max`` (negotiated; 0: no limit) less ``keep_free``; at least one."""
    room = channel_max - keep_free if channel_max else DECLARING_CHANNELS
    return range(max(1, min(DECLARING_CHANNELS, room, max(len(first), len(then)))))


async def gathered(refused: list[int], calls: list[Any]) -> list[Any]:
    """Run ``calls`` (one per lane) at once: their results; else the error of the first lane
    in ``refused`` (those whose channel the broker closed, in that order) that failed, or of
    the first lane that failed (a lost connection fails them all alike)."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    failed = [i for i, r in enumerate(results) if isinstance(r, BaseException)]
    if failed:
        raise results[next((i for i in refused if i in failed), failed[0])]
    return results
