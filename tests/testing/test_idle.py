"""How the plugin tells a worker is idle, from the worker's own /metrics and the ready counts."""

from __future__ import annotations

import pytest

from mqwire.runtime.worker.metrics import Metrics
from mqwire.testing.idle import Probe, WorkerCounts, probe_order


def test_counts_read_the_in_flight_gauge_and_every_outcome_from_the_real_metrics_text() -> None:
    metrics = Metrics()
    for queue in ("orders", 'we"ird\\queue', "orders", "mail"):
        metrics.started(queue)
    metrics.finished("orders", "invoice", "ack", 0.1)
    metrics.finished("mail", "send", "retry", 0.1)
    metrics.started("mail")
    metrics.finished("mail", "send", "dead-letter", 0.1)
    metrics.started("mail")
    metrics.finished("mail", "send", "parked", 0.1)

    counts = WorkerCounts.parse(metrics.render())

    assert counts.in_flight == {"orders": 1, 'we"ird\\queue': 1}, "queues at zero are left out"
    assert counts.settled == 4
    assert counts.parked == 1


def test_counts_of_a_worker_that_received_nothing_are_zero() -> None:
    assert WorkerCounts.parse(Metrics().render()) == WorkerCounts({}, 0, 0)


IDLE = WorkerCounts({}, 5, 0)


@pytest.mark.parametrize(
    ("probe", "idle"),
    [
        (Probe(IDLE, {"orders": 0, "orders.retry.1s": 0}, IDLE), True),
        (Probe(IDLE, {"orders": 0, "orders.retry.1s": 1}, IDLE), False),  # a retry waits
        (Probe(IDLE, {"orders": None}, IDLE), False),  # the queue was deleted
        (Probe(WorkerCounts({"orders": 1}, 5), {"orders": 0}, IDLE), False),
        (Probe(IDLE, {"orders": 0}, WorkerCounts({"orders": 1}, 5)), False),
        # a message went through the worker while the queues were read: it may have
        # published to a queue read before
        (Probe(IDLE, {"orders": 0}, WorkerCounts({}, 6)), False),
        (Probe(WorkerCounts({}, 5, 1), {"orders": 0}, WorkerCounts({}, 5, 1)), False),  # parked
    ],
)
def test_idle_needs_empty_queues_nothing_in_flight_and_nothing_settled_meanwhile(
    probe: Probe, idle: bool
) -> None:
    assert probe.idle is idle


def test_the_description_names_each_queue_and_what_the_worker_holds() -> None:
    probe = Probe(
        IDLE,
        {"orders.retry.1s": 1, "orders": 0, "mail": None},
        WorkerCounts({"orders": 2, "other": 1}, 6, 1),
    )

    assert probe.describe() == (
        "'orders.retry.1s': 1 ready, 0 in flight; 'orders': 0 ready, 2 in flight; "
        "'mail': missing, 0 in flight; 'other': 1 in flight; "
        "1 message(s) parked unacked (see the worker's log); "
        "the worker settled messages while the queues were read"
    )


def test_retry_queues_are_read_before_the_queues_they_return_messages_to() -> None:
    served = [("a", ["a.retry.1s", "a.retry.5s"]), ("b", []), ("c", ["c.retry.1s"])]

    assert probe_order(served) == ["a.retry.1s", "a.retry.5s", "c.retry.1s", "a", "b", "c"]
