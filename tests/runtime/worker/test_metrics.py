"""Metrics: counters per outcome, the in-flight gauge, the histogram and the text format."""

from __future__ import annotations

import re
from collections.abc import Sequence

import pytest

from mqwire.runtime.worker.metrics import DEFAULT_BUCKETS, Metrics


def _sample_lines(text: str, name: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(name + "{")]


def test_render_small_scenario_exactly() -> None:
    metrics = Metrics(buckets=(0.1, 1))
    for _ in range(5):
        metrics.started("orders")
    metrics.started("emails")
    metrics.finished("orders", "ship", "ack", 0.05)
    metrics.finished("orders", "ship", "ack", 0.5)
    metrics.finished("orders", "ship", "retry", 2.0)
    metrics.finished("orders", None, "dead-letter", 0.0)
    metrics.finished("orders", "ship", "dropped", 9.0)
    metrics.stuck(2)

    assert metrics.render() == (
        "# HELP mqwire_messages_processed_total Messages handled successfully and acknowledged.\n"
        "# TYPE mqwire_messages_processed_total counter\n"
        'mqwire_messages_processed_total{queue="orders",task="ship"} 2\n'
        "# HELP mqwire_messages_failed_total"
        " Messages whose handling failed (retried or dead-lettered).\n"
        "# TYPE mqwire_messages_failed_total counter\n"
        'mqwire_messages_failed_total{queue="orders",task=""} 1\n'
        'mqwire_messages_failed_total{queue="orders",task="ship"} 1\n'
        "# HELP mqwire_messages_retried_total Failed messages sent back for another attempt.\n"
        "# TYPE mqwire_messages_retried_total counter\n"
        'mqwire_messages_retried_total{queue="orders",task="ship"} 1\n'
        "# HELP mqwire_messages_dead_lettered_total"
        " Messages dead-lettered, including bodies that could not be decoded.\n"
        "# TYPE mqwire_messages_dead_lettered_total counter\n"
        'mqwire_messages_dead_lettered_total{queue="orders",task=""} 1\n'
        "# HELP mqwire_messages_requeued_total"
        " Messages returned unprocessed to the broker (shutdown or lost channel).\n"
        "# TYPE mqwire_messages_requeued_total counter\n"
        'mqwire_messages_requeued_total{queue="orders",task="ship"} 1\n'
        "# HELP mqwire_messages_parked_total"
        " Failed messages held unacked, their queue no longer consumed: no copy published.\n"
        "# TYPE mqwire_messages_parked_total counter\n"
        "# HELP mqwire_messages_in_flight Messages being handled right now.\n"
        "# TYPE mqwire_messages_in_flight gauge\n"
        'mqwire_messages_in_flight{queue="emails"} 1\n'
        'mqwire_messages_in_flight{queue="orders"} 0\n'
        "# HELP mqwire_stuck_tasks Tasks abandoned past their timeout and still running.\n"
        "# TYPE mqwire_stuck_tasks gauge\n"
        "mqwire_stuck_tasks 2\n"
        "# HELP mqwire_task_duration_seconds Time spent handling one message, in seconds.\n"
        "# TYPE mqwire_task_duration_seconds histogram\n"
        'mqwire_task_duration_seconds_bucket{queue="orders",task="",le="0.1"} 1\n'
        'mqwire_task_duration_seconds_bucket{queue="orders",task="",le="1.0"} 1\n'
        'mqwire_task_duration_seconds_bucket{queue="orders",task="",le="+Inf"} 1\n'
        'mqwire_task_duration_seconds_sum{queue="orders",task=""} 0.0\n'
        'mqwire_task_duration_seconds_count{queue="orders",task=""} 1\n'
        'mqwire_task_duration_seconds_bucket{queue="orders",task="ship",le="0.1"} 1\n'
        'mqwire_task_duration_seconds_bucket{queue="orders",task="ship",le="1.0"} 2\n'
        'mqwire_task_duration_seconds_bucket{queue="orders",task="ship",le="+Inf"} 3\n'
        'mqwire_task_duration_seconds_sum{queue="orders",task="ship"} 2.55\n'
        'mqwire_task_duration_seconds_count{queue="orders",task="ship"} 3\n'
    )


def test_empty_metrics_still_declare_every_family() -> None:
    text = Metrics().render()
    names = [
        "mqwire_messages_processed_total",
        "mqwire_messages_failed_total",
        "mqwire_messages_retried_total",
        "mqwire_messages_dead_lettered_total",
        "mqwire_messages_requeued_total",
        "mqwire_messages_parked_total",
        "mqwire_messages_in_flight",
        "mqwire_stuck_tasks",
        "mqwire_task_duration_seconds",
    ]
    assert [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")] == names
    assert [line.split()[2] for line in text.splitlines() if line.startswith("# HELP")] == names
    samples = [line for line in text.splitlines() if not line.startswith("#")]
    assert samples == ["mqwire_stuck_tasks 0"], "only the unlabelled gauge has a sample"


def test_label_values_are_escaped() -> None:
    metrics = Metrics()
    metrics.started('q"1')
    metrics.finished('q"1', 'back\\slash\nnew "line"', "ack", 0.001)
    lines = _sample_lines(metrics.render(), "mqwire_messages_processed_total")
    assert lines == [
        r'mqwire_messages_processed_total{queue="q\"1",task="back\\slash\nnew \"line\""} 1'
    ]
    assert lines[0].count("\n") == 0


def test_buckets_are_cumulative_and_upper_bounds_are_inclusive() -> None:
    metrics = Metrics(buckets=(0.5, 1, 5))
    for duration in (0.1, 0.5, 0.7, 1.0, 3.0, 7.0, 100.0):
        metrics.started("q")
        metrics.finished("q", "t", "ack", duration)
    text = metrics.render()
    buckets = {
        m[1]: int(m[2])
        for m in re.finditer(r'_bucket\{queue="q",task="t",le="([^"]+)"\} (\d+)', text)
    }
    assert buckets == {"0.5": 2, "1.0": 4, "5.0": 5, "+Inf": 7}
    assert 'mqwire_task_duration_seconds_count{queue="q",task="t"} 7\n' in text


def test_default_buckets_are_all_rendered_in_order() -> None:
    metrics = Metrics()
    metrics.started("q")
    metrics.finished("q", "t", "retry", 0.2)
    bounds = re.findall(r'le="([^"]+)"', metrics.render())
    assert bounds == [repr(float(b)) for b in DEFAULT_BUCKETS] + ["+Inf"]


def test_in_flight_goes_up_and_down_per_queue() -> None:
    metrics = Metrics()
    metrics.started("a")
    metrics.started("a")
    metrics.started("b")
    assert metrics.snapshot()["mqwire_messages_in_flight"] == 3
    metrics.finished("a", "t", "ack", 0.1)
    metrics.finished("b", "t", "requeue", 0.1)
    assert _sample_lines(metrics.render(), "mqwire_messages_in_flight") == [
        'mqwire_messages_in_flight{queue="a"} 1',
        'mqwire_messages_in_flight{queue="b"} 0',
    ]
    assert metrics.snapshot()["mqwire_messages_in_flight"] == 1


def test_snapshot_sums_over_labels_and_skips_unprocessed_durations() -> None:
    metrics = Metrics()
    outcomes = ["ack", "ack", "retry", "dead-letter", "dead-letter", "requeue", "dropped"]
    outcomes += ["parked", "rejected"]
    for i, outcome in enumerate(outcomes):
        metrics.started(f"q{i % 2}")
        metrics.finished(f"q{i % 2}", f"t{i % 3}", outcome, 0.25)
    assert metrics.snapshot() == {
        "mqwire_messages_processed_total": 2,
        "mqwire_messages_failed_total": 5,
        "mqwire_messages_retried_total": 1,
        "mqwire_messages_dead_lettered_total": 3,
        "mqwire_messages_requeued_total": 2,
        "mqwire_messages_parked_total": 1,
        "mqwire_messages_in_flight": 0,
        "mqwire_stuck_tasks": 0,
        "mqwire_task_duration_seconds_count": 7,
        "mqwire_task_duration_seconds_sum": 1.75,
    }


def test_unknown_outcome_is_refused_without_changing_anything() -> None:
    metrics = Metrics()
    metrics.started("q")
    before = metrics.render()
    with pytest.raises(ValueError, match="unknown outcome 'nack'"):
        metrics.finished("q", "t", "nack", 0.1)
    assert metrics.render() == before


@pytest.mark.parametrize("buckets", [(1, 0.5), (0.5, 0.5), (float("nan"),)])
def test_buckets_must_be_strictly_increasing(buckets: tuple[float, ...]) -> None:
    with pytest.raises(ValueError, match="strictly increasing"):
        Metrics(buckets=buckets)


class RecordingSink:
    """A process group child's second record (``metrics.Sink``), as a list of calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []

    def started(self, queue: str) -> None:
        self.calls.append(("started", queue))

    def finished(
        self, queue: str, task: str, counters: Sequence[str], duration: float | None
    ) -> None:
        self.calls.append(("finished", queue, task, tuple(counters), duration))

    def stuck(self, count: int) -> None:
        self.calls.append(("stuck", count))


def test_a_sink_sees_every_event_with_the_counters_it_incremented() -> None:
    sink = RecordingSink()
    metrics = Metrics(sink=sink)
    metrics.started("orders")
    metrics.finished("orders", "ship", "ack", 0.5)
    metrics.finished("orders", None, "dead-letter", 0.25)
    metrics.finished("orders", "ship", "requeue", 9.0)
    metrics.stuck(1)

    assert sink.calls == [
        ("started", "orders"),
        ("finished", "orders", "ship", ("mqwire_messages_processed_total",), 0.5),
        (
            "finished", "orders", "",
            ("mqwire_messages_dead_lettered_total", "mqwire_messages_failed_total"), 0.25,
        ),
        ("finished", "orders", "ship", ("mqwire_messages_requeued_total",), None),  # unobserved
        ("stuck", 1),
    ]  # fmt: skip
