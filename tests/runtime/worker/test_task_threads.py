"""The task threads: results come back on the loop, in batches, and nothing escapes them."""

from __future__ import annotations

import asyncio
import sys
import threading
from typing import Any

import pytest

from mqwire.runtime.worker.task_threads import TaskThreads


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
