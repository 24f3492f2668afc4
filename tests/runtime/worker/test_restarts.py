"""A process group's restart decisions (``restarts.py``), driven with plain times and a fixed
random source: no processes, no clock."""

from __future__ import annotations

import signal

from mqwire.runtime.errors import ExitCode
from mqwire.runtime.worker.restarts import (
    Restart,
    RestartLimits,
    Restarts,
    StopGroup,
    describe,
    group_exit_code,
)


def restarts(max_deaths: int = 3, window: float = 60.0) -> Restarts:
    return Restarts(RestartLimits(max_deaths, window, backoff_cap=4.0), rng=lambda: 1.0)


def test_a_dead_child_is_restarted_after_a_backoff_that_grows_per_slot() -> None:
    group = restarts(max_deaths=10)
    group.started(0, 0.0)
    group.started(1, 0.0)
    # rng 1.0 scales each wait by 1: 0.5, 1, 2, 4, then the cap
    assert group.died(0, -signal.SIGKILL, 1.0) == Restart(0.5)
    assert group.died(0, -signal.SIGKILL, 2.0) == Restart(1.0)
    assert group.died(1, ExitCode.UNREACHABLE, 3.0) == Restart(0.5)  # its own backoff
    assert group.died(0, ExitCode.STUCK, 4.0) == Restart(2.0)
    assert group.died(0, 0, 5.0) == Restart(4.0)
    assert group.died(0, 0, 6.0) == Restart(4.0)


def test_a_slot_that_ran_a_whole_window_starts_its_backoff_over() -> None:
    group = restarts(max_deaths=10, window=60.0)
    group.started(0, 0.0)
    assert group.died(0, -signal.SIGKILL, 1.0) == Restart(0.5)
    group.started(0, 1.5)
    assert group.died(0, -signal.SIGKILL, 3.0) == Restart(1.0)
    group.started(0, 4.0)
    assert group.died(0, -signal.SIGKILL, 64.0) == Restart(0.5)


def test_max_deaths_within_the_window_stop_the_group_as_a_crash_loop() -> None:
    group = restarts(max_deaths=3, window=10.0)
    for slot in (0, 1):
        group.started(slot, 0.0)
    assert isinstance(group.died(0, -signal.SIGKILL, 1.0), Restart)
    assert isinstance(group.died(1, -signal.SIGKILL, 2.0), Restart)
    decision = group.died(0, -signal.SIGSEGV, 3.0)
    assert isinstance(decision, StopGroup)
    assert decision.code == ExitCode.CRASH_LOOP
    assert "3 children died within 10 s (--max-deaths 3)" in decision.reason


def test_deaths_older_than_the_window_are_forgotten() -> None:
    group = restarts(max_deaths=3, window=10.0)
    group.started(0, 0.0)
    assert isinstance(group.died(0, -signal.SIGKILL, 1.0), Restart)
    assert isinstance(group.died(0, -signal.SIGKILL, 5.0), Restart)
    assert isinstance(group.died(0, -signal.SIGKILL, 11.5), Restart)  # the one at 1.0 is out
    assert isinstance(group.died(0, -signal.SIGKILL, 12.0), StopGroup)


def test_a_code_no_restart_can_fix_stops_the_group_with_that_code() -> None:
    for code in (ExitCode.CONFIG, ExitCode.TOPOLOGY_MISMATCH):
        group = restarts()
        group.started(0, 0.0)
        decision = group.died(0, code, 1.0)
        assert isinstance(decision, StopGroup)
        assert decision.code == code
        assert f"exit {int(code)} ({code.name})" in decision.reason


def test_the_group_exits_with_its_worst_code_and_a_signal_counts_as_a_forced_stop() -> None:
    assert group_exit_code([]) == ExitCode.OK
    assert group_exit_code([0, 0]) == ExitCode.OK
    assert group_exit_code([0, -signal.SIGKILL]) == ExitCode.FORCED_STOP
    assert group_exit_code([1, 6, 0]) == ExitCode.STUCK
    assert group_exit_code([0, 1], ExitCode.CRASH_LOOP) == ExitCode.CRASH_LOOP
    assert group_exit_code([0, 0], ExitCode.CONFIG) == ExitCode.CONFIG


def test_describe_names_the_exit_code_or_the_signal() -> None:
    assert describe(3) == "exit 3 (UNREACHABLE)"
    assert describe(42) == "exit 42"
    assert describe(-signal.SIGKILL) == "killed by SIGKILL"
    assert describe(-200) == "killed by signal 200"
