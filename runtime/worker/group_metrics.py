"""A process group's ``/metrics``: prometheus_client's multiprocess mode (``mqwire[prometheus]``).

``mserve --processes N --http``: the supervisor gives every child ``PROMETHEUS_MULTIPROC_DIR``
(a fresh folder of its own); each child records its worker metrics through a ``GroupSink`` as
well as its own ``Metrics``, which prometheus_client writes to files named by the child's pid;
the supervisor's ``/metrics`` is ``render_group``: prometheus_client's ``MultiProcessCollector``
adds the files up (counters and histograms over every child that ever ran, gauges over the live
ones). See docs/mserve.md, "Process groups".

With ``mqwire.runtime.prometheus``, the only module importing prometheus_client; the worker
imports this one only in a group.
"""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from . import metrics as m

__all__ = ["GroupSink", "child_ended", "render_group"]

_COUNTERS = (m.PROCESSED, m.FAILED, m.RETRIED, m.DEAD_LETTERED, m.REQUEUED, m.PARKED)


class GroupSink:
    """A child's worker metrics, in its multiprocess files (a ``metrics.Sink``).

    The names, labels and buckets of ``Metrics``; the gauges add up over the live children
    (``livesum``): ``mark_process_dead`` drops a dead child's gauge files.
    """

    def __init__(self, buckets: Sequence[float] = m.DEFAULT_BUCKETS) -> None:
        labels = ("queue", "task")
        self._counters = {
            name: Counter(name, m.HELP[name], labels, registry=None) for name in _COUNTERS
        }
        self._in_flight = Gauge(
            m.IN_FLIGHT, m.HELP[m.IN_FLIGHT], ("queue",), registry=None, multiprocess_mode="livesum"
        )
        self._stuck = Gauge(m.STUCK, m.HELP[m.STUCK], registry=None, multiprocess_mode="livesum")
        self._durations = Histogram(
            m.DURATION, m.HELP[m.DURATION], labels, registry=None, buckets=buckets
        )

    def started(self, queue: str) -> None:
        self._in_flight.labels(queue).inc()

    def finished(
        self, queue: str, task: str, counters: Sequence[str], duration: float | None
    ) -> None:
        self._in_flight.labels(queue).dec()
        for name in counters:
            self._counters[name].labels(queue, task).inc()
        if duration is not None:
            self._durations.labels(queue, task).observe(duration)

    def stuck(self, count: int) -> None:
        self._stuck.set(count)


def render_group(path: str) -> str:
    """Every child's metrics in ``path`` (their ``PROMETHEUS_MULTIPROC_DIR``), added up."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
    return generate_latest(registry).decode("utf-8")


def child_ended(pid: int, path: str) -> None:
    """Drop a dead child's live gauges (its counters stay in the group's totals)."""
    mark_process_dead(pid, path)  # type: ignore[no-untyped-call]
