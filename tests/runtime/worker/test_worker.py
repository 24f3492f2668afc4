"""The worker's settle paths without a broker: hand-written fakes of its session and publisher.

Each test runs a real ``Worker`` on ``asyncio.run``, delivers through the fake session as the
AMQP one would, and asserts the exact acks, nacks and published copies, in order.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from worker_fakes import BODY, BusyThread, running, scenario

from mqwire.runtime.errors import ExitCode


async def succeed(context: Any, request: Any) -> None:
    pass


async def fail(context: Any, request: Any) -> None:
    raise KeyError("k")


# -- one message, every outcome --------------------------------------------------------------


def test_a_success_is_acked_and_nothing_is_published() -> None:
    async def test() -> None:
        async with running(succeed) as r:
            tag = r.broker.deliver("q", BODY)
            assert await r.metrics.until(1) == [("q", "t", "ack")]
            assert await r.stop() is ExitCode.OK
        assert r.broker.calls == [("ack", "q", tag, True)]
        assert r.outcomes.sent == [] and r.outcomes.closed

    scenario(test)


def test_a_plain_task_runs_on_a_thread_and_is_acked() -> None:
    threads: list[str] = []

    def plain(context: Any, request: Any) -> None:
        threads.append(threading.current_thread().name)

    async def test() -> None:
        async with running(plain) as r:
            tag = r.broker.deliver("q", BODY)
            assert await r.metrics.until(1) == [("q", "t", "ack")]
            assert await r.stop() is ExitCode.OK
        assert r.broker.calls == [("ack", "q", tag, True)]
        assert threads[0].startswith("mqwire-task-")

    scenario(test)


def test_a_failure_is_copied_to_its_delay_queue_with_the_next_attempt_then_acked() -> None:
    async def test() -> None:
        async with running(fail) as r:
            tag = r.broker.deliver("q", BODY, {"message_id": "m-1"})
            assert await r.metrics.until(1) == [("q", "t", "retry")]
            await r.stop()
        assert r.broker.calls == [("send", "q.retry.5s"), ("ack", "q", tag, True)]
        (copy,) = r.outcomes.sent
        assert (copy.exchange, copy.routing_key, copy.body, copy.message_id) == (
            "", "q.retry.5s", BODY, "m-1"
        )  # fmt: skip
        assert copy.properties["headers"] == {"x-mqwire-attempt": 2}

    scenario(test)


def test_the_last_attempt_is_dead_lettered_with_why_then_acked() -> None:
    async def test() -> None:
        async with running(fail) as r:
            tag = r.broker.deliver("q", BODY, {"headers": {"x-mqwire-attempt": 2}})
            assert await r.metrics.until(1) == [("q", "t", "dead-letter")]
            await r.stop()
        assert r.broker.calls == [("send", "q.dead"), ("ack", "q", tag, True)]
        headers = r.outcomes.sent[0].properties["headers"]
        assert headers["x-mqwire-reason"] == "KeyError: 'k'"
        assert headers["x-mqwire-exception"] == "KeyError"
        assert (headers["x-mqwire-task"], headers["x-mqwire-queue"]) == ("t", "q")
        assert headers["x-mqwire-attempts"] == 2
        assert isinstance(headers["x-mqwire-failed-at"], int)

    scenario(test)


def test_an_undecodable_body_is_dead_lettered_without_running_the_task() -> None:
    ran: list[int] = []

    async def test() -> None:
        async with running(lambda c, r: ran.append(1)) as r:
            tag = r.broker.deliver("q", b"{")
            assert await r.metrics.until(1) == [("q", "t", "dead-letter")]
            await r.stop()
        assert r.broker.calls == [("send", "q.dead"), ("ack", "q", tag, True)]
        assert ran == []

    scenario(test)


@pytest.mark.parametrize("kind", ["coroutine", "plain"])
def test_a_failing_root_factory_is_the_task_s_failure(kind: str) -> None:
    def no_tenant(request: Any) -> Any:
        raise LookupError("no tenant")

    async def coroutine(context: Any, request: Any) -> None:
        raise AssertionError("not called without a context")

    def plain(context: Any, request: Any) -> None:
        raise AssertionError("not called without a context")

    async def test() -> None:
        function = coroutine if kind == "coroutine" else plain
        async with running(function, root_factory=no_tenant) as r:
            tag = r.broker.deliver("q", BODY)
            assert await r.metrics.until(1) == [("q", "t", "retry")]
            await r.stop()
        assert r.broker.calls == [("send", "q.retry.5s"), ("ack", "q", tag, True)]
        headers = r.outcomes.sent[0].properties["headers"]
        assert headers["x-mqwire-attempt"] == 2

    scenario(test)


def test_a_task_past_its_timeout_is_retried() -> None:
    async def hang(context: Any, request: Any) -> None:
        await asyncio.Event().wait()  # only the timeout ends it

    async def test() -> None:
        async with running(hang, timeout=0.01) as r:
            tag = r.broker.deliver("q", BODY)
            assert await r.metrics.until(1) == [("q", "t", "retry")]
            await r.stop()
        assert r.broker.calls == [("send", "q.retry.5s"), ("ack", "q", tag, True)]

    scenario(test)


def test_finished_messages_are_acked_together_and_one_behind_a_slow_one_alone() -> None:
    gates: dict[int, asyncio.Future[None]] = {}

    async def gated(context: Any, request: Any) -> None:
        await gates[request.delivery_tag]

    async def test() -> None:
        loop = asyncio.get_running_loop()
        gates.update({tag: loop.create_future() for tag in (1, 2, 3, 4)})
        async with running(gated) as r:
            for _ in range(4):
                r.broker.deliver("q", BODY)
            for tag in (1, 2, 4):  # 3 is still running
                gates[tag].set_result(None)
            await r.metrics.until(3)
            gates[3].set_result(None)
            await r.metrics.until(4)
            await r.stop()
        assert r.broker.calls == [
            ("ack", "q", 2, True), ("ack", "q", 4, False), ("ack", "q", 3, True)
        ]  # fmt: skip

    scenario(test)


# -- a channel that goes away ------------------------------------------------------------------


def test_a_message_whose_channel_closed_is_dropped_never_acked() -> None:
    async def test() -> None:
        gate = asyncio.get_running_loop().create_future()

        async def gated(context: Any, request: Any) -> None:
            await gate

        async with running(gated) as r:
            r.broker.deliver("q", BODY)
            r.broker.channel("q").is_open = False  # e.g. the delivery-ack timeout closed it
            gate.set_result(None)
            assert await r.metrics.until(1) == [("q", "t", "dropped")]
        assert r.broker.calls == []

    scenario(test)


def test_after_a_lost_connection_the_old_tag_is_dropped_and_work_goes_on_on_a_new_one() -> None:
    async def test() -> None:
        gate = asyncio.get_running_loop().create_future()
        first = [True]

        async def gated(context: Any, request: Any) -> None:
            if first:  # the first message runs until the connection is back
                first.clear()
                await gate

        async with running(gated) as r:
            r.broker.deliver("q", BODY)
            r.broker.consuming.clear()
            r.broker.lose()
            await r.broker.consuming.wait()  # reconnected
            gate.set_result(None)
            assert await r.metrics.until(1) == [("q", "t", "dropped")]
            tag = r.broker.deliver("q", BODY)  # the new channel counts from 1 again
            assert await r.metrics.until(2) == [("q", "t", "dropped"), ("q", "t", "ack")]
            assert await r.stop() is ExitCode.OK
        assert [s.closed for s in r.broker.sessions] == [True, True]
        assert r.broker.calls == [("ack", "q", tag, True)]

    scenario(test)


def test_plain_tasks_still_waiting_for_a_thread_when_the_connection_drops_never_run() -> None:
    busy = BusyThread()

    async def test() -> None:
        async with running(busy) as r:  # one thread
            await busy.occupy(r.broker)
            r.broker.deliver("q", BODY)  # waits for the thread
            r.broker.consuming.clear()
            r.broker.lose()
            await r.broker.consuming.wait()
            # redelivered by the broker, so running it here would run it twice
            assert await r.metrics.until(1) == [("q", None, "dropped")]
            busy.release.set()
            assert await r.metrics.until(2) == [("q", None, "dropped"), ("q", "t", "dropped")]
            assert await r.stop() is ExitCode.OK
        assert busy.ran == [1] and r.broker.calls == []

    try:
        scenario(test)
    finally:
        busy.release.set()
