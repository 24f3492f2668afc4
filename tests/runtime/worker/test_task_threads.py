"""The task threads: results come back on the loop, in batches, and nothing escapes them."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from typing import Any

import pytest

from mqwire.runtime.errors import TaskTimeout
from mqwire.runtime.interrupt import ThreadInterrupt
from mqwire.runtime.worker.stuck import StuckTasks
from mqwire.runtime.worker.task_threads import TaskThreads
from mqwire.runtime.worker.time_limits import TimeLimit


def test_results_and_exceptions_come_back_on_the_loop_thread() -> None:
    async def main() -> list[Any]:
        threads = TaskThreads(2)
        try:
            ok = threads.submit(lambda: threading.current_thread().name)
            failed = threads.submit(int, "x")
            return list(await asyncio.gather(ok, failed, return_exceptions=True))
        finally:
            threads.shutdown()

    name, error = asyncio.run(main())

    assert name.startswith("mqwire-task-")
    assert isinstance(error, ValueError)


def test_system_exit_in_a_task_becomes_an_error_instead_of_ending_the_worker() -> None:
    async def main() -> BaseException:
        threads = TaskThreads(1)
        try:
            with pytest.raises(RuntimeError) as raised:
                await threads.submit(sys.exit, 3)
            return raised.value
        finally:
            threads.shutdown()

    error = asyncio.run(main())

    assert str(error) == "the task raised SystemExit: 3"
    assert isinstance(error.__cause__, SystemExit)


def test_results_finished_while_the_loop_is_busy_take_one_wake_up() -> None:
    wakeups = 0

    async def main() -> list[int]:
        nonlocal wakeups
        threads = TaskThreads(1)
        deliver = threads._deliver

        def counting() -> None:
            nonlocal wakeups
            wakeups += 1
            deliver()

        threads._deliver = counting  # type: ignore[method-assign]
        all_done = threading.Event()
        try:
            squares = [threads.submit(pow, n, 2) for n in range(200)]
            threads.submit(all_done.set)
            all_done.wait(10)  # keeps the loop busy until the thread finished everything
            return list(await asyncio.gather(*squares))
        finally:
            threads.shutdown()

    squares = asyncio.run(main())

    assert squares == [n * n for n in range(200)]
    assert wakeups == 1, "201 results, one hand-off to the loop"


def test_submit_after_shutdown_is_refused() -> None:
    async def main() -> None:
        threads = TaskThreads(1)
        threads.shutdown()
        with pytest.raises(RuntimeError, match="shut down"):
            threads.submit(print)

    asyncio.run(main())


def test_submit_to_an_idle_pool_returns_once_a_thread_has_the_task() -> None:
    async def main() -> tuple[int, int]:
        threads = TaskThreads(2, handover=60)  # no timeout in play: submit waits for a thread
        try:
            running = threads.submit(pow, 3, 2)
            taken_back = threads.cancel_waiting()  # too late: a thread has it
            return taken_back, await running
        finally:
            threads.shutdown()

    assert asyncio.run(main()) == (0, 9)


def test_submit_to_a_busy_pool_does_not_wait_for_a_thread() -> None:
    gate = threading.Event()

    async def main() -> int:
        threads = TaskThreads(1, handover=60)
        # Opens the gate only if submit below waited for the busy thread, so the task it
        # queued would be taken and the assertion fail; a correct submit returns at once.
        watchdog = threading.Timer(10, gate.set)
        try:
            first = threads.submit(gate.wait)
            watchdog.start()
            threads.submit(print)
            taken_back = threads.cancel_waiting()  # the queued one: no thread had it yet
            gate.set()
            await first
            return taken_back
        finally:
            watchdog.cancel()
            threads.shutdown()

    assert asyncio.run(main()) == 1


# -- cancellation and time limits -----------------------------------------------------------

LIMIT = TimeLimit(0.05, "t", "m-1")


def spin() -> None:
    """Pure Python until something raises inside it: only an interrupt ends it."""
    n = 0
    while True:
        n += 1


async def changed(stuck: StuckTasks, count: int) -> None:
    """Returns once ``stuck`` counts ``count`` tasks."""
    event = asyncio.Event()
    stuck.subscribe(event.set)
    while stuck.count != count:
        event.clear()
        await event.wait()


def test_a_future_cancelled_while_queued_never_runs() -> None:
    gate, ran = threading.Event(), []

    async def main() -> None:
        threads = TaskThreads(1)
        try:
            first = threads.submit(gate.wait, 10)
            queued = threads.submit(ran.append, "queued")
            queued.cancel()
            gate.set()
            await first
            await threads.submit(ran.append, "after")  # one thread, in order: queued was skipped
        finally:
            threads.shutdown()

    asyncio.run(main())

    assert ran == ["after"]


def test_the_limit_counts_from_when_a_thread_takes_the_task() -> None:
    async def main() -> list[Any]:
        threads = TaskThreads(1, interrupt=ThreadInterrupt())
        try:
            first = threads.submit(time.sleep, 0.3)  # work, longer than the queued one's limit
            queued = threads.submit(pow, 2, 5, limit=LIMIT)
            return list(await asyncio.gather(first, queued))
        finally:
            threads.shutdown()

    assert asyncio.run(main()) == [None, 32], "the waiting task did not time out"


def test_a_pure_python_task_past_its_limit_is_stopped_and_its_thread_serves_on() -> None:
    async def main() -> tuple[BaseException, str, str, int]:
        threads = TaskThreads(1, grace=30, interrupt=ThreadInterrupt())
        try:
            name = threads.submit(lambda: threading.current_thread().name)
            overrun = threads.submit(spin, limit=LIMIT)
            with pytest.raises(TaskTimeout) as raised:
                await overrun
            after = threads.submit(lambda: threading.current_thread().name)
            return raised.value, await name, await after, threads.stuck.count
        finally:
            threads.shutdown()

    error, before, after, stuck = asyncio.run(main())

    assert str(error) == "task 't' ran longer than its timeout of 0.05 s"
    assert (after, stuck) == (before, 0), "stopped well within the grace: not abandoned"


@pytest.mark.parametrize("interrupt", [ThreadInterrupt(), None], ids=["interrupt", "off"])
def test_a_task_that_does_not_stop_is_abandoned_and_a_fresh_thread_takes_its_slot(
    interrupt: ThreadInterrupt | None,
) -> None:
    release = threading.Event()

    def blocked_in_c() -> None:
        release.wait()  # a lock acquire in C: the interrupt waits for it to return

    async def main() -> tuple[BaseException, list[str], int]:
        threads = TaskThreads(1, grace=0.05, interrupt=interrupt)
        try:
            stuck = threads.submit(blocked_in_c, limit=LIMIT)
            waiting = threads.submit(lambda: threading.current_thread().name)
            with pytest.raises(TaskTimeout) as raised:
                await stuck
            names = [await waiting]
            count = threads.stuck.count
            release.set()
            await changed(threads.stuck, 0)  # its task returned: no longer stuck, unreported
            names.append(await threads.submit(lambda: threading.current_thread().name))
            return raised.value, names, count
        finally:
            release.set()
            threads.shutdown()

    error, names, count = asyncio.run(main())

    assert isinstance(error, TaskTimeout) and count == 1
    assert names == ["mqwire-task-1", "mqwire-task-1"], "the replacement served both"
