"""The scheduler loop with a hand-written lock and clock: what fires, when, and after faults."""

from __future__ import annotations

import threading
from collections.abc import Mapping

from mqwire.runtime.errors import PublishConnectionError
from mqwire.runtime.scheduler.scheduler import Scheduler, run_id
from mqwire.topology.model import Schedule

TICK = Schedule("tick", "work", "fast", every=10.0)


class FakeLock:
    """Held from the first ``try_acquire``; ``wait`` moves the clock; lost after ``lose_at``."""

    def __init__(self, clock: list[float], state: Mapping[str, float] | None = None,
                 lose_at: float = float("inf"), stop_at: float = 60.0) -> None:  # fmt: skip
        self.clock, self.state = clock, dict(state or {})
        self.lose_at, self.stop_at = lose_at, stop_at
        self.stop = threading.Event()
        self.acquired = self.released = 0

    def try_acquire(self) -> bool:
        self.acquired += 1
        return self.clock[0] < self.lose_at

    def wait(self, seconds: float) -> bool:
        """False once, when the lock is lost: its connection dropped; later ones reconnect."""
        before = self.clock[0]
        self.clock[0] += seconds
        if self.clock[0] >= self.stop_at:
            self.stop.set()
        return not before < self.lose_at <= self.clock[0]

    def load_state(self) -> dict[str, float]:
        return dict(self.state)

    def save_state(self, state: Mapping[str, float]) -> None:
        self.state = dict(state)

    def release(self) -> None:
        self.released += 1


def run(
    lock: FakeLock, clock: list[float], fail: set[float] = frozenset()
) -> list[tuple[float, float, str]]:
    fired: list[tuple[float, float, str]] = []  # (when, due, id)

    def fire(schedule: Schedule, due: float, message_id: str) -> None:
        if clock[0] in fail:
            fail.discard(clock[0])
            raise PublishConnectionError("broker away")
        fired.append((clock[0], due, message_id))

    Scheduler({"tick": TICK}, lock, fire, clock=lambda: clock[0], retry_after=3.0).run(lock.stop)
    return fired


def test_fires_each_period_and_records_each_run() -> None:
    clock = [1000.0]
    lock = FakeLock(clock, stop_at=1035.0)
    fired = run(lock, clock)
    assert [(when, due) for when, due, _ in fired] == [(1010, 1010), (1020, 1020), (1030, 1030)]
    assert lock.state == {"tick": 1030.0}
    assert lock.released == 1


def test_a_failed_publish_is_retried_with_the_same_run_id() -> None:
    clock = [1000.0]
    lock = FakeLock(clock, stop_at=1025.0)
    fired = run(lock, clock, fail={1010.0})
    assert [(when, due) for when, due, _ in fired] == [(1013, 1010), (1020, 1020)]
    assert fired[0][2] == run_id(TICK, 1010.0)


def test_a_run_missed_before_taking_over_fires_once_at_once() -> None:
    clock = [1000.0]
    lock = FakeLock(clock, state={"tick": 900.0}, stop_at=1015.0)  # 9 periods missed
    fired = run(lock, clock)
    assert [(when, due) for when, due, _ in fired] == [(1000, 1000), (1010, 1010)]


def test_a_lost_lock_stops_firing_until_it_is_taken_again() -> None:
    clock = [1000.0]
    lock = FakeLock(clock, lose_at=1015.0, stop_at=1030.0)
    fired = run(lock, clock)
    assert [due for _, due, _ in fired] == [1010]
    assert lock.acquired >= 2  # it went back to waiting for the lock, and never fired again


def test_run_ids_name_the_schedule_and_the_instant() -> None:
    assert run_id(TICK, 1733281200.0) == "schedule:tick:2024-12-04T03:00:00.000Z"
