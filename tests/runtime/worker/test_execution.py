"""Where the worker runs a task: coroutines on the loop, plain functions in the pool, timeouts."""

from __future__ import annotations

import asyncio
import contextvars
import sys
import threading
from collections.abc import Callable
from typing import Any

import pytest

from mqwire.runtime.dispatch import Action, Delivery, Outcome, QueuePolicy, TaskEntry
from mqwire.runtime.errors import TaskTimeout
from mqwire.runtime.worker.execution import failure_message, finish, start, start_task
from mqwire.runtime.worker.task_threads import TaskThreads

BODY = b'{"id": 1}'


def delivery(attempt: int = 1) -> Delivery:
    headers = {"x-mqwire-attempt": attempt}
    return Delivery("q", BODY, {"content_type": "application/json", "headers": headers}, "q")


def policy(function: Callable[..., Any], timeout: float | None = None) -> QueuePolicy:
    task = TaskEntry("t", function, "q", timeout=timeout)
    return QueuePolicy("q", task, retry_delays=(5.0,))


async def execute(d: Delivery, p: QueuePolicy, pool: TaskThreads) -> Outcome:
    """Decode, run and judge one delivery, as the worker does: ``start`` then ``finish``."""
    return await finish(d, p, start(d, p, pool))


def run(function: Callable[..., Any], *, attempt: int = 1, timeout: float | None = None) -> Any:
    async def main() -> Any:
        pool = TaskThreads(1)
        try:
            return await execute(delivery(attempt), policy(function, timeout), pool)
        finally:
            pool.shutdown()  # a timed-out plain task still holds its (daemon) thread

    return asyncio.run(main())


def test_a_plain_task_runs_on_a_pool_thread_and_is_acked() -> None:
    threads: list[str] = []

    def task(context: Any, request: Any) -> None:
        threads.append(threading.current_thread().name)

    outcome = run(task)

    assert outcome.action is Action.ACK
    assert threads and threads[0].startswith("mqwire-task-")


def test_a_coroutine_task_runs_on_the_loop_thread() -> None:
    threads: list[str] = []

    async def task(context: Any, request: Any) -> None:
        threads.append(threading.current_thread().name)

    outcome = run(task)

    assert outcome.action is Action.ACK
    assert threads == [threading.current_thread().name]
    assert TaskEntry("t", task, "q").is_coroutine


@pytest.mark.parametrize("kind", ["plain", "coroutine"])
def test_a_task_past_its_timeout_is_retried_then_dead_lettered(kind: str) -> None:
    release = threading.Event()

    def plain(context: Any, request: Any) -> None:
        release.wait(10)  # blocks until the test is done with it

    async def coroutine(context: Any, request: Any) -> None:
        await asyncio.Event().wait()  # never set: only the timeout ends it

    task = plain if kind == "plain" else coroutine
    try:
        first = run(task, timeout=0.05)
        last = run(task, attempt=2, timeout=0.05)
    finally:
        release.set()

    assert (first.action, first.delay) == (Action.RETRY, 5.0)
    assert isinstance(first.error, TaskTimeout)
    assert first.reason == "TaskTimeout: task 't' ran longer than its timeout of 0.05 s"
    assert last.action is Action.DEAD_LETTER and isinstance(last.error, TaskTimeout)


def test_an_exception_in_either_kind_of_task_becomes_the_outcome() -> None:
    def plain(context: Any, request: Any) -> None:
        raise KeyError("k")

    async def coroutine(context: Any, request: Any) -> None:
        raise KeyError("k")

    for task in (plain, coroutine):
        outcome = run(task)
        assert outcome.action is Action.RETRY and outcome.reason == "KeyError: 'k'"


def test_an_undecodable_body_is_judged_without_running_the_task() -> None:
    ran: list[int] = []

    async def main() -> Any:
        bad = Delivery("q", b"{", {"content_type": "application/json"}, "q")
        pool = TaskThreads(1)
        try:
            return await execute(bad, policy(lambda c, r: ran.append(1)), pool)
        finally:
            pool.shutdown()

    outcome = asyncio.run(main())

    assert outcome.action is Action.DEAD_LETTER and ran == []


def test_cancel_waiting_takes_back_tasks_that_have_not_started() -> None:
    started, release = threading.Event(), threading.Event()
    ran: list[int] = []

    def blocker(context: Any, request: Any) -> None:
        started.set()
        release.wait(10)

    async def main() -> tuple[Any, bool]:
        pool = TaskThreads(1)
        running = asyncio.ensure_future(execute(delivery(), policy(blocker), pool))
        waiting = asyncio.ensure_future(
            execute(delivery(), policy(lambda c, r: ran.append(1)), pool)
        )
        await asyncio.get_running_loop().run_in_executor(None, started.wait, 10)
        cancelled = pool.cancel_waiting()
        release.set()
        outcome = await running
        with pytest.raises(asyncio.CancelledError):
            await waiting
        pool.shutdown()
        return outcome, cancelled == 1

    outcome, one_cancelled = asyncio.run(main())

    assert outcome.action is Action.ACK and one_cancelled and ran == []


def test_a_retry_copy_goes_to_the_delay_queue_with_the_next_attempt() -> None:
    outcome = Outcome(Action.RETRY, "t", delay=5.0, reason="KeyError: 'k'")
    message = failure_message(delivery(attempt=1), outcome, "q.dead", now=1_700_000_000.0)

    assert (message.exchange, message.routing_key, message.body) == ("", "q.retry.5s", BODY)
    assert message.properties["headers"]["x-mqwire-attempt"] == 2
    assert message.properties["message_id"] == message.message_id != ""


def test_a_dead_letter_copy_says_why_and_keeps_the_message_id() -> None:
    failed = Delivery("q", BODY, {"message_id": "m-1", "headers": {"x-mqwire-attempt": 2}}, "q")
    outcome = Outcome(Action.DEAD_LETTER, "t", reason="ValueError: no", error=ValueError("no"))
    message = failure_message(failed, outcome, "q.dead", now=1_700_000_000.5)

    headers = message.properties["headers"]
    assert (message.routing_key, message.message_id) == ("q.dead", "m-1")
    assert headers["x-mqwire-reason"] == "ValueError: no"
    assert headers["x-mqwire-exception"] == "ValueError"
    assert (headers["x-mqwire-attempts"], headers["x-mqwire-failed-at"]) == (2, 1_700_000_000)


# -- starting work from a loop callback, as the worker does on a delivery --------------------


def test_start_hands_a_plain_task_to_its_thread_before_returning() -> None:
    began = threading.Event()

    async def main() -> Outcome:
        pool = TaskThreads(1)
        try:
            started = start(delivery(), policy(lambda c, r: began.set()), pool)
            # The loop is blocked here: only a thread that already has the task can run it.
            assert began.wait(10), "the task did not start while the loop was busy"
            return await finish(delivery(), policy(lambda c, r: None), started)
        finally:
            pool.shutdown()

    assert asyncio.run(main()).action is Action.ACK


def test_start_runs_a_coroutine_task_as_its_own_task() -> None:
    events: list[Any] = []

    async def task(context: Any, request: Any) -> None:
        events.append(asyncio.current_task())  # the task itself, no worker coroutine around it
        await asyncio.sleep(0)
        events.append("resumed")

    async def main() -> tuple[Any, Outcome]:
        loop = asyncio.get_running_loop()
        made: asyncio.Future[Any] = loop.create_future()
        pool = TaskThreads(1)

        def on_delivery() -> None:  # a plain callback, as pika calls the worker
            made.set_result(start(delivery(), policy(task), pool))
            events.append("returned")

        loop.call_soon(on_delivery)
        try:
            started = await made
            return started, await finish(delivery(), policy(task), started)
        finally:
            pool.shutdown()

    started, outcome = asyncio.run(main())

    assert outcome.action is Action.ACK
    assert isinstance(started.running, asyncio.Task)
    if sys.version_info >= (3, 12):  # started eagerly, in the turn that received the message
        assert events == [started.running, "returned", "resumed"]
    else:
        assert events == ["returned", started.running, "resumed"]


def test_a_failing_root_factory_is_the_task_s_failure_for_both_kinds() -> None:
    def no_tenant(request: Any) -> Any:
        raise LookupError("no tenant")

    async def coroutine_task(context: Any, request: Any) -> None:
        raise AssertionError("not called without a context")

    def plain_task(context: Any, request: Any) -> None:
        raise AssertionError("not called without a context")

    async def main(function: Callable[..., Any]) -> Outcome:
        task = TaskEntry("t", function, "q", root_factory=no_tenant)
        pool = TaskThreads(1)
        try:
            return await execute(delivery(), QueuePolicy("q", task, retry_delays=(5.0,)), pool)
        finally:
            pool.shutdown()

    for function in (coroutine_task, plain_task):
        outcome = asyncio.run(main(function))
        assert (outcome.action, outcome.reason) == (Action.RETRY, "LookupError: no tenant")


def test_start_task_runs_the_coroutine_as_a_real_task_with_its_own_context() -> None:
    tenant: contextvars.ContextVar[str] = contextvars.ContextVar("tenant", default="none")
    events: list[str] = []

    async def work() -> str:
        events.append("in its own task" if asyncio.current_task() is not None else "no task")
        tenant.set("acme")  # in the task's copy of the context, never the caller's
        async with asyncio.timeout(5):  # needs a current task; fails outside one
            await asyncio.sleep(0)
        return tenant.get()

    async def main() -> str:
        loop = asyncio.get_running_loop()
        made: asyncio.Future[asyncio.Task[str]] = loop.create_future()

        def on_delivery() -> None:  # a plain callback, as the session calls the worker
            made.set_result(start_task(work()))
            events.append(f"returned, tenant {tenant.get()}")

        loop.call_soon(on_delivery)
        return await (await made)

    assert asyncio.run(main()) == "acme"
    first_step = ["in its own task"]
    returned = ["returned, tenant none"]
    eager = sys.version_info >= (3, 12)
    assert events == (first_step + returned if eager else returned + first_step)
