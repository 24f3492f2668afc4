"""The worker's counters, rendered in the Prometheus text exposition format (version 0.0.4).

Pure: no I/O and no third-party imports. ``status_http`` serves ``render()`` on ``/metrics``.
Series are keyed by label values; a series, once seen, stays (at zero) rather than vanishing.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Sequence
from typing import Any

DEFAULT_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
)  # fmt: skip

PROCESSED = "mqwire_messages_processed_total"
FAILED = "mqwire_messages_failed_total"
RETRIED = "mqwire_messages_retried_total"
DEAD_LETTERED = "mqwire_messages_dead_lettered_total"
REQUEUED = "mqwire_messages_requeued_total"
PARKED = "mqwire_messages_parked_total"
IN_FLIGHT = "mqwire_messages_in_flight"
DURATION = "mqwire_task_duration_seconds"
STUCK = "mqwire_stuck_tasks"

_COUNTERS: dict[str, str] = {
    PROCESSED: "Messages handled successfully and acknowledged.",
    FAILED: "Messages whose handling failed (retried or dead-lettered).",
    RETRIED: "Failed messages sent back for another attempt.",
    DEAD_LETTERED: "Messages dead-lettered, including bodies that could not be decoded.",
    REQUEUED: "Messages returned unprocessed to the broker (shutdown or lost channel).",
    PARKED: "Failed messages held unacked, their queue no longer consumed: no copy published.",
}
#: Which counters each outcome increments; durations are observed unless the message was
#: given back unprocessed.
_OUTCOMES: dict[str, tuple[str, ...]] = {
    "ack": (PROCESSED,),
    "retry": (FAILED, RETRIED),
    "dead-letter": (DEAD_LETTERED, FAILED),
    "requeue": (REQUEUED,),
    "dropped": (REQUEUED,),
    "parked": (FAILED, PARKED),
    "rejected": (DEAD_LETTERED, FAILED),  # no copy published: the queue's own DLX has it
}
_UNOBSERVED = frozenset({"requeue", "dropped"})

Labels = tuple[str, str]  # (queue, task)


def _escape(value: str) -> str:
    return value.replace("\\", r"\\").replace('"', r"\"").replace("\n", r"\n")


def _number(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"


class _Histogram:
    __slots__ = ("counts", "sum")

    def __init__(self, size: int) -> None:
        self.counts = [0] * size  # per bucket, not cumulative; the last one is +Inf
        self.sum = 0.0


class Metrics:
    """Message counters, the in-flight gauge and the task duration histogram of one worker."""

    def __init__(self, buckets: Sequence[float] = DEFAULT_BUCKETS) -> None:
        bounds = [float(b) for b in buckets]
        if any(math.isnan(b) for b in bounds) or bounds != sorted(set(bounds)):
            raise ValueError(f"histogram buckets must be strictly increasing, got {buckets!r}")
        self._bounds = tuple(b for b in bounds if b != math.inf)
        self._lock = threading.Lock()
        self._counters: dict[str, dict[Labels, int]] = {name: {} for name in _COUNTERS}
        self._in_flight: dict[str, int] = {}
        self._durations: dict[Labels, _Histogram] = {}
        self._stuck = 0

    def started(self, queue: str) -> None:
        """A message of ``queue`` is being handled."""
        with self._lock:
            self._in_flight[queue] = self._in_flight.get(queue, 0) + 1

    def finished(self, queue: str, task: str | None, outcome: str, duration: float) -> None:
        """A message of ``queue`` left the worker with ``outcome`` after ``duration`` seconds."""
        if outcome not in _OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; expected one of {sorted(_OUTCOMES)}")
        key = (queue, task or "")
        with self._lock:
            self._in_flight[queue] = self._in_flight.get(queue, 0) - 1
            for name in _OUTCOMES[outcome]:
                series = self._counters[name]
                series[key] = series.get(key, 0) + 1
            if outcome not in _UNOBSERVED:
                histogram = self._durations.get(key)
                if histogram is None:
                    histogram = self._durations[key] = _Histogram(len(self._bounds) + 1)
                # The first bucket whose bound is >= duration; past the last one, +Inf.
                histogram.counts[bisect.bisect_left(self._bounds, duration)] += 1
                histogram.sum += duration

    def stuck(self, count: int) -> None:
        """``count`` abandoned tasks (past their timeout, unstoppable) are still running."""
        with self._lock:
            self._stuck = count

    def snapshot(self) -> dict[str, Any]:
        """Totals over all labels, keyed by metric name (the histogram as ``_count``/``_sum``)."""
        with self._lock:
            totals: dict[str, Any] = {n: sum(s.values()) for n, s in self._counters.items()}
            totals[IN_FLIGHT] = sum(self._in_flight.values())
            totals[STUCK] = self._stuck
            totals[f"{DURATION}_count"] = sum(sum(h.counts) for h in self._durations.values())
            totals[f"{DURATION}_sum"] = sum(h.sum for h in self._durations.values())
            return totals

    def render(self) -> str:
        """All metrics in the text exposition format, series sorted by their label values."""
        out: list[str] = []

        def family(name: str, kind: str, help_text: str) -> None:
            out.extend((f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"))

        with self._lock:
            for name, help_text in _COUNTERS.items():
                family(name, "counter", help_text)
                for (queue, task), value in sorted(self._counters[name].items()):
                    out.append(f"{name}{_labels(queue=queue, task=task)} {value}")
            family(IN_FLIGHT, "gauge", "Messages being handled right now.")
            for queue, value in sorted(self._in_flight.items()):
                out.append(f"{IN_FLIGHT}{_labels(queue=queue)} {value}")
            family(STUCK, "gauge", "Tasks abandoned past their timeout and still running.")
            out.append(f"{STUCK} {self._stuck}")
            family(DURATION, "histogram", "Time spent handling one message, in seconds.")
            for (queue, task), histogram in sorted(self._durations.items()):
                cumulative = 0
                for bound, count in zip((*self._bounds, math.inf), histogram.counts, strict=True):
                    cumulative += count
                    le = _labels(queue=queue, task=task, le=_number(bound))
                    out.append(f"{DURATION}_bucket{le} {cumulative}")
                labels = _labels(queue=queue, task=task)
                out.append(f"{DURATION}_sum{labels} {_number(histogram.sum)}")
                out.append(f"{DURATION}_count{labels} {cumulative}")
        return "\n".join(out) + "\n"
