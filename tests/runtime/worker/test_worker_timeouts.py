"""Task timeouts without a broker: counted from the start, overruns stopped or abandoned.

A plain task past its ``timeout:`` is sent ``TaskTimeout`` in its thread; one that does not
stop (blocked in C) is abandoned after the grace and its thread replaced, and a coroutine
that ignores its cancellation likewise. At ``max_stuck`` the worker stops and exits STUCK.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from worker_fakes import BODY, running, scenario

from mqwire.runtime.errors import ExitCode
from mqwire.runtime.worker.policy import WorkerOptions
from mqwire.runtime.worker.stuck import StuckTasks

LAST_ATTEMPT = {"headers": {"x-mqwire-attempt": 2}, "message_id": "m-1"}  # dead-lettered


def acked(calls: list[tuple[Any, ...]]) -> list[int]:
    """The tags the acks cover, sorted (a multiple ack covers every tag up to its own)."""
    tags: list[int] = []
    for call in calls:
        if call[0] == "ack":
            _, _, tag, multiple = call
            tags += [t for t in range(1, tag + 1) if t not in tags] if multiple else [tag]
    return sorted(tags)


REASON = "TaskTimeout: task 't' ran longer than its timeout of 0.2 s"


def test_a_message_queued_behind_an_overrunning_task_starts_then_is_judged_by_its_own_time() -> (
    None
):
    ran: list[int] = []

    def spin_first(context: Any, request: Any) -> None:
        ran.append(request.delivery_tag)
        n = 0
        while request.delivery_tag == 1:  # pure Python: the interrupt stops it
            n += 1

    async def test() -> None:
        async with running(spin_first, timeout=0.2) as r:  # one thread
            first = r.broker.deliver("q", BODY, LAST_ATTEMPT)
            second = r.broker.deliver("q", BODY)  # waits for the thread past 0.2 s
            results = await r.metrics.until(2)
            assert await r.stop() is ExitCode.OK
        assert sorted(results) == [("q", "t", "ack"), ("q", "t", "dead-letter")]
        assert ran == [first, second], "each ran once"
        (copy,) = r.outcomes.sent
        assert copy.properties["headers"]["x-mqwire-reason"] == REASON
        assert copy.properties["headers"]["x-mqwire-exception"] == "TaskTimeout"
        assert acked(r.broker.calls) == [first, second], "each acked once"
        assert r.metrics.snapshot()["mqwire_stuck_tasks"] == 0

    scenario(test)


def test_a_task_blocked_in_c_is_abandoned_and_the_queue_flows_on_a_fresh_thread() -> None:
    release = threading.Event()
    threads: list[str] = []

    def block_first(context: Any, request: Any) -> None:
        threads.append(threading.current_thread().name)
        if request.delivery_tag == 1:
            release.wait()  # in C: the interrupt cannot land until it returns

    async def test() -> None:
        stuck = StuckTasks(4)
        options = WorkerOptions(timeout_grace=0.05)
        async with running(block_first, timeout=0.2, options=options, stuck=stuck) as r:
            r.broker.deliver("q", BODY, LAST_ATTEMPT)
            r.broker.deliver("q", BODY)
            results = await r.metrics.until(2)
            assert r.metrics.snapshot()["mqwire_stuck_tasks"] == 1
            alive, text = stuck.health()
            assert alive and "stuck: task 't' message_id=m-1" in text
            release.set()
            assert await r.stop() is ExitCode.OK
        assert sorted(results) == [("q", "t", "ack"), ("q", "t", "dead-letter")]
        assert threads == ["mqwire-task-0", "mqwire-task-1"], "the second ran on the replacement"
        assert r.outcomes.sent[0].properties["headers"]["x-mqwire-reason"] == REASON

    try:
        scenario(test)
    finally:
        release.set()


def test_at_max_stuck_health_turns_red_and_the_worker_drains_and_exits_stuck() -> None:
    release = threading.Event()

    def block(context: Any, request: Any) -> None:
        release.wait()

    async def test() -> None:
        stuck = StuckTasks(1)
        options = WorkerOptions(timeout_grace=0.05)
        async with running(block, timeout=0.2, options=options, stuck=stuck) as r:
            r.broker.deliver("q", BODY, {"message_id": "m-7"})
            assert await r.run is ExitCode.STUCK, "it stopped by itself"
            alive, text = stuck.health()
            assert r.metrics.results == [("q", "t", "retry")]
            assert r.broker.channel("q").cancelled, "no more messages taken"
        assert not alive
        assert text.startswith("1 stuck task(s), --max-stuck 1: restart this process\n")
        assert "stuck: task 't' message_id=m-7 for " in text

    try:
        scenario(test)
    finally:
        release.set()


def test_a_coroutine_ignoring_its_cancellation_counts_as_stuck() -> None:
    cancellations: list[int] = []

    async def test() -> None:
        release = asyncio.Event()  # its wait's own future is what a cancellation cancels

        async def stubborn(context: Any, request: Any) -> None:
            while not release.is_set():
                try:
                    await release.wait()
                except asyncio.CancelledError:
                    cancellations.append(1)  # and on it goes

        stuck = StuckTasks(1)
        options = WorkerOptions(timeout_grace=0.05)
        async with running(stubborn, timeout=0.2, options=options, stuck=stuck) as r:
            r.broker.deliver("q", BODY, {"message_id": "m-9"})
            assert await r.run is ExitCode.STUCK
            assert r.metrics.results == [("q", "t", "retry")]
            assert not stuck.health()[0] and "message_id=m-9" in stuck.health()[1]
            ended = asyncio.Event()
            stuck.subscribe(ended.set)
            release.set()
            await ended.wait()  # it ended by itself: no longer counted
            assert stuck.count == 0
        assert cancellations == [1]
        assert r.broker.calls == [("send", "q.retry.5s"), ("ack", "q", 1, True)]

    scenario(test)
