"""The worker's counters, as ``exposition`` families (Prometheus text format, version 0.0.4).

Pure: no I/O and no third-party imports. ``status_http`` serves ``render()`` on ``/metrics``,
after the registry's publisher and connection metrics (``client_metrics``).
Series are keyed by label values; a series, once seen, stays (at zero) rather than vanishing.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Protocol

from ..exposition import Family, Histogram, Sample, check_buckets, render

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
#: Every metric's help text (a sink declares the same metrics).
HELP: dict[str, str] = {
    **_COUNTERS,
    IN_FLIGHT: "Messages being handled right now.",
    STUCK: "Tasks abandoned past their timeout and still running.",
    DURATION: "Time spent handling one message, in seconds.",
}

Labels = tuple[str, str]  # (queue, task)


class Sink(Protocol):
    """Where a process group's child also records each event (``prometheus.GroupSink``), so
    the group's supervisor can add every child's counters up."""

    def started(self, queue: str) -> None: ...

    def finished(
        self, queue: str, task: str, counters: Sequence[str], duration: float | None
    ) -> None:
        """``counters`` were incremented; ``duration`` observed unless ``None``."""

    def stuck(self, count: int) -> None: ...


class Metrics:
    """Message counters, the in-flight gauge and the task duration histogram of one worker."""

    def __init__(
        self, buckets: Sequence[float] = DEFAULT_BUCKETS, sink: Sink | None = None
    ) -> None:
        self._bounds = check_buckets(buckets)
        self._sink = sink
        self._lock = threading.Lock()
        self._counters: dict[str, dict[Labels, int]] = {name: {} for name in _COUNTERS}
        self._in_flight: dict[str, int] = {}
        self._durations: dict[Labels, Histogram] = {}
        self._stuck = 0

    def started(self, queue: str) -> None:
        """A message of ``queue`` is being handled."""
        with self._lock:
            self._in_flight[queue] = self._in_flight.get(queue, 0) + 1
        if self._sink is not None:
            self._sink.started(queue)

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
                    histogram = self._durations[key] = Histogram(self._bounds)
                histogram.observe(duration)
        if self._sink is not None:
            observed = None if outcome in _UNOBSERVED else duration
            self._sink.finished(queue, task or "", _OUTCOMES[outcome], observed)

    def stuck(self, count: int) -> None:
        """``count`` abandoned tasks (past their timeout, unstoppable) are still running."""
        with self._lock:
            self._stuck = count
        if self._sink is not None:
            self._sink.stuck(count)

    def snapshot(self) -> dict[str, Any]:
        """Totals over all labels, keyed by metric name (the histogram as ``_count``/``_sum``)."""
        with self._lock:
            totals: dict[str, Any] = {n: sum(s.values()) for n, s in self._counters.items()}
            totals[IN_FLIGHT] = sum(self._in_flight.values())
            totals[STUCK] = self._stuck
            totals[f"{DURATION}_count"] = sum(sum(h.counts) for h in self._durations.values())
            totals[f"{DURATION}_sum"] = sum(h.sum for h in self._durations.values())
            return totals

    def families(self) -> list[Family]:
        """Every metric, series sorted by their label values (a series once seen stays)."""
        out: list[Family] = []
        with self._lock:
            for name, help_text in _COUNTERS.items():
                samples = [
                    Sample(name, (("queue", queue), ("task", task)), value)
                    for (queue, task), value in sorted(self._counters[name].items())
                ]
                out.append(Family(name, "counter", help_text, samples))
            in_flight = [
                Sample(IN_FLIGHT, (("queue", queue),), value)
                for queue, value in sorted(self._in_flight.items())
            ]
            out.append(Family(IN_FLIGHT, "gauge", HELP[IN_FLIGHT], in_flight))
            stuck = [Sample(STUCK, (), self._stuck)]
            out.append(Family(STUCK, "gauge", HELP[STUCK], stuck))
            durations = [
                sample
                for (queue, task), histogram in sorted(self._durations.items())
                for sample in histogram.samples(DURATION, (("queue", queue), ("task", task)))
            ]
            out.append(Family(DURATION, "histogram", HELP[DURATION], durations))
        return out

    def render(self) -> str:
        """All metrics in the text exposition format."""
        return render(self.families())
