"""The worker runs the middleware's task hooks, without a broker: ``before_task`` where the
task runs, ``after_task`` once the delivery is settled (ack, retry, dead-letter, requeue,
parked), in the delivery's own context; a hook raising never loses or repeats a message."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest
from middleware_app import SPAN
from worker_fakes import BODY, BusyThread, running, scenario

from mqwire.runtime import MessageRequest, Middleware, TaskOutcome
from mqwire.runtime.errors import ExitCode, PublishNacked
from mqwire.runtime.worker.policy import WorkerOptions

LAST = {"message_id": "m-1", "headers": {"x-mqwire-attempt": 2}}  # dead-lettered on failure


class Watch(Middleware):
    """Records where each hook ran and the span it saw; ``before_task`` sets the span."""

    def __init__(self, fail: tuple[str, ...] = ()) -> None:
        self.fail = fail
        self.events: list[tuple[Any, ...]] = []

    def before_task(self, request: MessageRequest) -> None:
        self.events.append(("before", threading.current_thread().name, asyncio_task()))
        SPAN.set(f"span-{request.delivery_tag}")
        if "before_task" in self.fail:
            raise LookupError("no tracer")

    def after_task(self, request: MessageRequest, outcome: TaskOutcome) -> None:
        error = type(outcome.error).__name__ if outcome.error else None
        self.events.append(("after", outcome.result, error, SPAN.get()))
        if "after_task" in self.fail:
            raise LookupError("reporting failed")


def asyncio_task() -> bool:
    try:
        return asyncio.current_task() is not None
    except RuntimeError:  # no loop in this thread
        return False


def test_a_plain_task_gets_before_task_in_its_thread_and_after_task_once_acked() -> None:
    seen: list[tuple[str, str | None]] = []

    def task(context: Any, request: Any) -> None:
        seen.append((threading.current_thread().name, SPAN.get()))

    async def test() -> None:
        watch = Watch()
        async with running(task, middleware=[watch]) as r:
            tag = r.broker.deliver("q", BODY)
            assert await r.metrics.until(1) == [("q", "t", "ack")]
            loop_thread = threading.current_thread().name
        ((thread, span),) = seen
        assert thread != loop_thread and span == f"span-{tag}"
        assert watch.events == [("before", thread, False), ("after", "ack", None, f"span-{tag}")]
        assert ("ack", "q", tag, True) in r.broker.calls
        assert SPAN.get() is None, "the loop's own context is untouched"

    scenario(test)


def test_an_async_task_gets_before_task_in_its_own_asyncio_task() -> None:
    seen: list[str | None] = []

    async def task(context: Any, request: Any) -> None:
        await asyncio.sleep(0)
        seen.append(SPAN.get())

    async def test() -> None:
        watch = Watch()
        async with running(task, middleware=[watch], timeout=30) as r:
            tag = r.broker.deliver("q", BODY)
            assert await r.metrics.until(1) == [("q", "t", "ack")]
            loop_thread = threading.current_thread().name
        assert seen == [f"span-{tag}"]
        assert watch.events == [
            ("before", loop_thread, True), ("after", "ack", None, f"span-{tag}"),
        ]  # fmt: skip
        assert SPAN.get() is None

    scenario(test)


def fail(context: Any, request: Any) -> None:
    raise KeyError("k")


def test_after_task_sees_the_retry_and_the_dead_letter_with_the_task_error() -> None:
    async def test() -> None:
        watch = Watch()
        async with running(fail, middleware=[watch]) as r:
            first = r.broker.deliver("q", BODY, {"message_id": "m-1"})
            last = r.broker.deliver("q", BODY, LAST)
            assert sorted(await r.metrics.until(2)) == [
                ("q", "t", "dead-letter"), ("q", "t", "retry"),
            ]  # fmt: skip
        after = sorted(e for e in watch.events if e[0] == "after")
        assert after == [
            ("after", "dead-letter", "KeyError", f"span-{last}"),
            ("after", "retry", "KeyError", f"span-{first}"),
        ]

    scenario(test)


def test_a_before_task_error_fails_the_task_unrun_and_is_retried_by_policy() -> None:
    ran: list[int] = []

    async def test() -> None:
        watch = Watch(fail=("before_task",))
        async with running(lambda c, request: ran.append(1), middleware=[watch]) as r:
            r.broker.deliver("q", BODY, {"message_id": "m-1"})
            assert await r.metrics.until(1) == [("q", "t", "retry")]
        assert ran == []
        assert watch.events[-1][:3] == ("after", "retry", "LookupError")
        (copy,) = r.outcomes.sent
        assert copy.routing_key == "q.retry.5s"

    scenario(test)


def test_an_after_task_error_is_logged_and_the_message_acked_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def test() -> None:
        with caplog.at_level(logging.ERROR, "mqwire.middleware"):
            async with running(lambda c, r: None, middleware=[Watch(fail=("after_task",))]) as r:
                tag = r.broker.deliver("q", BODY, {"message_id": "m-1"})
                assert await r.metrics.until(1) == [("q", "t", "ack")]
                assert await r.stop() is ExitCode.OK
        assert r.broker.calls == [("ack", "q", tag, True)]
        assert "Watch.after_task failed after message m-1 of 'q' (ack)" in caplog.text

    scenario(test)


def test_a_forced_stop_gives_after_task_a_requeue() -> None:
    async def hang(context: Any, request: Any) -> None:
        await asyncio.Event().wait()  # only the stop ends it

    async def test() -> None:
        watch = Watch()
        async with running(hang, middleware=[watch], options=WorkerOptions(grace=0.01)) as r:
            r.broker.deliver("q", BODY)
            assert await r.stop() is ExitCode.FORCED_STOP
        events = [e[:3] for e in watch.events]
        assert events == [("before", "MainThread", True), ("after", "requeue", None)]

    scenario(test)


def test_a_plain_task_that_never_got_a_thread_gets_no_hooks() -> None:
    busy, watch = BusyThread(), Watch()

    async def test() -> None:
        async with running(busy, middleware=[watch]) as r:  # one thread
            await busy.occupy(r.broker)
            r.broker.deliver("q", BODY)  # waits for the one thread
            r.worker.request_stop()
            assert await r.metrics.until(1) == [("q", None, "requeue")]  # given back unrun
            busy.release.set()
            assert await r.run is ExitCode.OK
        assert [e[:2] for e in watch.events] == [("before", watch.events[0][1]), ("after", "ack")]

    try:
        scenario(test)
    finally:
        busy.release.set()


def test_a_copy_that_cannot_be_published_parks_and_after_task_says_so() -> None:
    nacked = PublishNacked("refused by the broker (basic.nack)", routing_key="q.retry.5s")

    async def test() -> None:
        watch = Watch()
        options = WorkerOptions(copy_backoff=(0.5,), copy_jitter=0.0)
        async with running(fail, publish_error=nacked, options=options, middleware=[watch]) as r:
            r.broker.deliver("q", BODY, {"message_id": "m-1"})
            assert await r.metrics.until(1) == [("q", "t", "parked")]
        assert watch.events[-1][:3] == ("after", "parked", "KeyError")

    scenario(test)
