"""When is a worker idle? Every queue it serves empty, and nothing it received unsettled.

A passive declare tells a queue's ready count exactly, but not its unacknowledged one. The
management API tells both, but from statistics up to five seconds old: it can call a queue
settled while the worker still holds a message, and keeps calling it busy seconds after the
ack. The worker itself knows exactly: its ``/metrics`` counts the deliveries in flight
(received and not yet settled; an ack is written in the same loop turn that settles it) and
every outcome so far. So one probe reads the worker, then the broker, then the worker again:
the worker is idle when nothing was in flight, nothing was settled between the two reads (so
no message moved through it meanwhile), and every queue was empty in between. Retry queues are
read before the queues they return messages to, so a message moving from one to the other on
the broker is seen in one of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from mqwire.runtime.worker import metrics

_SAMPLE = re.compile(r"(?P<name>[A-Za-z_:][\w:]*)(?:\{(?P<labels>.*)\})?\s+(?P<value>\S+)")
_QUEUE_LABEL = re.compile(r'queue="((?:[^"\\]|\\.)*)"')
_UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}
#: Every outcome a delivery can have in the worker's counters (FAILED is always counted with
#: another one, so it adds nothing).
_OUTCOMES = (
    metrics.PROCESSED, metrics.RETRIED, metrics.DEAD_LETTERED, metrics.REQUEUED, metrics.PARKED
)  # fmt: skip


@dataclass(frozen=True)
class WorkerCounts:
    """What one ``/metrics`` answer says about the deliveries the worker holds."""

    in_flight: Mapping[str, int] = field(default_factory=dict)  #: per queue, non-zero only
    settled: int = 0  #: deliveries settled so far, whatever the outcome
    parked: int = 0  #: held unacked for good: their queue is no longer consumed

    @classmethod
    def parse(cls, text: str) -> WorkerCounts:
        """Read the counts from the Prometheus text ``/metrics`` serves."""
        in_flight: dict[str, int] = {}
        totals = dict.fromkeys(_OUTCOMES, 0)
        for line in text.splitlines():
            sample = _SAMPLE.fullmatch(line.strip())
            if sample is None or line.startswith("#"):
                continue
            name, value = sample["name"], int(float(sample["value"]))
            if name in totals:
                totals[name] += value
            elif name == metrics.IN_FLIGHT and value:
                queue = _QUEUE_LABEL.search(sample["labels"] or "")
                label = re.sub(r"\\.", lambda m: _UNESCAPE[m[0]], queue[1]) if queue else ""
                in_flight[label] = in_flight.get(label, 0) + value
        return cls(in_flight, sum(totals.values()), totals[metrics.PARKED])


@dataclass(frozen=True)
class Probe:
    """The worker's counts before and after the broker's ready counts (None: queue missing)."""

    before: WorkerCounts
    ready: Mapping[str, int | None]
    after: WorkerCounts

    @property
    def idle(self) -> bool:
        return (
            not self.before.in_flight
            and not self.after.in_flight
            and self.before.settled == self.after.settled
            and not self.after.parked
            and all(count == 0 for count in self.ready.values())
        )

    def describe(self) -> str:
        """Each queue's state, then the worker's: what the timeout message shows."""
        parts = []
        for queue, ready in self.ready.items():
            flying = self.after.in_flight.get(queue, 0)
            state = "missing" if ready is None else f"{ready} ready"
            parts.append(f"{queue!r}: {state}, {flying} in flight")
        for queue in sorted(set(self.after.in_flight) - set(self.ready)):
            parts.append(f"{queue!r}: {self.after.in_flight[queue]} in flight")
        if self.after.parked:
            parts.append(f"{self.after.parked} message(s) parked unacked (see the worker's log)")
        if self.before.settled != self.after.settled:
            parts.append("the worker settled messages while the queues were read")
        return "; ".join(parts)


def probe_order(queues: Iterable[tuple[str, Iterable[str]]]) -> list[str]:
    """Queue names to read: every retry queue first, then the queues they return to.

    ``queues``: each served queue with its retry queues.
    """
    served = list(queues)
    retries = [name for _, retry_names in served for name in retry_names]
    return list(dict.fromkeys([*retries, *(name for name, _ in served)]))
