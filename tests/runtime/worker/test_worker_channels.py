"""One queue's channel closed by the broker, without a broker: only that channel is reopened, and
a run its consumer timeout cut short counts as a failed attempt of the queue's retry policy.

The fakes record every call; the waits before reopening are recorded by the harness, never slept.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from worker_fakes import BODY, running, scenario

from mqwire.runtime.errors import ExitCode, Lost, PublishNacked
from mqwire.runtime.worker import worker as worker_module
from mqwire.runtime.worker.policy import WorkerOptions

FIRST = {"message_id": "m-1"}
LAST = {"message_id": "m-1", "headers": {"x-mqwire-attempt": 2}}  # q retries once (after 5 s)
HOLD = b'{"hold": true}'
TWO_THREADS = WorkerOptions(concurrency=2)


class Holding:
    """A plain task that holds its thread while the body says ``hold``, until ``release``."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.holding = threading.Semaphore(0)  # one release per task that began to hold
        self.starts: list[tuple[str, int]] = []  # (queue, attempt) of every run

    def __call__(self, context: Any, request: Any) -> None:
        self.starts.append((request.queue, request.attempt))
        if request.params.get("hold"):
            self.holding.release()
            self.release.wait(10)

    async def began(self) -> None:
        """Wait until one more task holds its thread."""
        loop = asyncio.get_running_loop()
        assert await loop.run_in_executor(None, self.holding.acquire, True, 10)


def test_a_consumer_timeout_reopens_that_queue_s_channel_only_and_counts_the_attempt() -> None:
    task = Holding()

    async def test() -> None:
        async with running(task, options=TWO_THREADS, others=["q2"]) as r:
            old_q, q2 = r.broker.channel("q"), r.broker.channel("q2")
            r.broker.deliver("q", HOLD, FIRST)
            await task.began()
            r.broker.consuming.clear()
            r.broker.close_channel("q")  # 406: its oldest unacked delivery timed out
            await r.broker.consuming.wait()
            assert r.broker.consumed == ["q", "q2", "q"], "q's channel alone opened again"
            assert r.broker.channel("q") is not old_q and r.broker.channel("q2") is q2
            assert q2.is_open and len(r.waits) == 1 and r.waits[0] <= 0.5
            other = r.broker.deliver("q2", BODY)  # the other queue never noticed
            assert await r.metrics.until(1) == [("q2", "t-q2", "ack")]
            again = r.broker.deliver("q", HOLD, FIRST, redelivered=True)
            results = await r.metrics.until(2)
            assert results[1] == ("q", "t", "retry"), "counted as attempt 1's failure"
            task.release.set()
            assert (await r.metrics.until(3))[2] == ("q", "t", "dropped")
            assert await r.stop() is ExitCode.OK
        assert task.starts == [("q", 1), ("q2", 1)], "the redelivery did not run again"
        assert r.broker.calls == [
            ("ack", "q2", other, True), ("send", "q.retry.5s"), ("ack", "q", again, True),
        ]  # fmt: skip
        copy = r.outcomes.sent[0]
        assert copy.properties["headers"]["x-mqwire-attempt"] == 2

    try:
        scenario(test)
    finally:
        task.release.set()


def test_the_last_attempt_cut_short_by_a_consumer_timeout_is_dead_lettered_saying_so() -> None:
    task = Holding()

    async def test() -> None:
        async with running(task) as r:
            r.broker.deliver("q", HOLD, LAST)
            await task.began()
            r.broker.consuming.clear()
            r.broker.close_channel("q")
            await r.broker.consuming.wait()
            again = r.broker.deliver("q", HOLD, LAST, redelivered=True)
            assert await r.metrics.until(1) == [("q", "t", "dead-letter")]
            task.release.set()
            assert await r.metrics.until(2) == [("q", "t", "dead-letter"), ("q", "t", "dropped")]
        assert task.starts == [("q", 2)]
        assert r.broker.calls == [("send", "q.dead"), ("ack", "q", again, True)]
        headers = r.outcomes.sent[0].properties["headers"]
        assert headers["x-mqwire-exception"] == "ConsumerTimeoutExpired"
        assert (
            "the broker's consumer timeout expired while task t ran (attempt 2"
            in (headers["x-mqwire-reason"])
        )

    try:
        scenario(test)
    finally:
        task.release.set()


def test_a_task_still_waiting_for_a_thread_is_not_counted_and_never_runs() -> None:
    task = Holding()

    async def test() -> None:
        async with running(task) as r:  # one thread
            r.broker.deliver("q", HOLD, FIRST)
            await task.began()
            r.broker.deliver("q", BODY, {"message_id": "m-2"})  # waits for the thread
            r.broker.consuming.clear()
            r.broker.close_channel("q")
            await r.broker.consuming.wait()
            assert await r.metrics.until(1) == [("q", None, "dropped")]
            task.release.set()
            assert await r.metrics.until(2) == [("q", None, "dropped"), ("q", "t", "dropped")]
            again = r.broker.deliver("q", BODY, {"message_id": "m-2"}, redelivered=True)
            assert (await r.metrics.until(3))[2] == ("q", "t", "ack"), "run as usual"
        assert task.starts == [("q", 1), ("q", 1)]
        assert r.broker.calls == [("ack", "q", again, True)]

    try:
        scenario(test)
    finally:
        task.release.set()


def test_a_channel_that_keeps_closing_waits_longer_each_time() -> None:
    async def test() -> None:
        async with running(Holding()) as r:
            for _ in range(3):
                r.broker.consuming.clear()
                r.broker.close_channel("q", consumer_timeout=False)
                await r.broker.consuming.wait()
            assert r.broker.consumed == ["q"] * 4
            assert r.metrics.results == [], "nothing was in flight"
        first, second, third = r.waits
        assert 0.25 <= first <= 0.5 <= second <= 1.0 <= third <= 2.0

    scenario(test)


def test_a_channel_that_cannot_be_reopened_makes_the_worker_reconnect() -> None:
    async def test() -> None:
        async with running(Holding()) as r:
            r.broker.consume_errors.append(Lost("opening a channel: connection closed"))
            r.broker.consuming.clear()
            r.broker.close_channel("q")
            await r.broker.consuming.wait()
            assert len(r.broker.sessions) == 2 and r.broker.sessions[0].closed
            assert r.worker.readiness() == (True, "w: consuming 1 queue(s)")

    scenario(test)


def test_a_channel_closed_while_stopping_is_not_reopened() -> None:
    task = Holding()

    async def test() -> None:
        async with running(task) as r:
            r.broker.deliver("q", HOLD, FIRST)
            await task.began()
            r.worker.request_stop()
            r.broker.close_channel("q")
            task.release.set()
            assert await r.run is ExitCode.OK
        assert r.broker.consumed == ["q"] and r.waits == []

    try:
        scenario(test)
    finally:
        task.release.set()


# -- requeues after an error of mqwire's own are bounded ----------------------------------------


def test_a_message_whose_start_keeps_failing_is_requeued_three_times_then_dead_lettered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken_start(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug in the start path")

    monkeypatch.setattr(worker_module, "start", broken_start)

    async def test() -> None:
        async with running(Holding()) as r:
            tags = [r.broker.deliver("q", BODY, FIRST, redelivered=n > 0) for n in range(4)]
            results = await r.metrics.until(4)
            assert [outcome for *_, outcome in results] == ["requeue"] * 3 + ["dead-letter"]
            last = r.broker.deliver("q", BODY, FIRST, redelivered=True)  # its ack was lost
            assert (await r.metrics.until(5))[4][2] == "dead-letter", "settled from the ledger"
        assert r.broker.calls == [
            *(("nack", "q", tag, True) for tag in tags[:3]),
            ("send", "q.dead"), ("ack", "q", tags[3], True), ("ack", "q", last, True),
        ]  # fmt: skip
        reason = r.outcomes.sent[0].properties["headers"]["x-mqwire-reason"]
        assert reason.startswith("requeued 3 time(s) after errors of mqwire's own, the last:")
        assert "RuntimeError: a bug in the start path" in reason

    scenario(test)


def test_when_even_the_dead_letter_after_errors_cannot_be_published_the_queue_is_parked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken_start(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug in the start path")

    monkeypatch.setattr(worker_module, "start", broken_start)
    refused = PublishNacked("refused by the broker (basic.nack)", routing_key="q.dead")
    options = WorkerOptions(copy_backoff=(0.5,), copy_jitter=0.0)

    async def test() -> None:
        async with running(Holding(), publish_error=refused, options=options) as r:
            for n in range(4):
                r.broker.deliver("q", BODY, FIRST, redelivered=n > 0)
            results = await r.metrics.until(4)
            assert [outcome for *_, outcome in results] == ["requeue"] * 3 + ["parked"]
            ready, why = r.worker.readiness()
            assert not ready and "could not move it to 'q.dead'" in why
        assert [c[0] for c in r.broker.calls] == ["nack"] * 3 + ["send"] * 2, "held, not acked"
        reason = r.outcomes.sent[0].properties["headers"]["x-mqwire-reason"]
        assert reason.startswith("requeued 3 time(s) after errors of mqwire's own")

    scenario(test)


SECOND = {"message_id": "m-2"}


@pytest.mark.parametrize("fails", [False, True], ids=["succeeds", "fails"])
def test_a_redelivery_waits_for_the_first_run_still_going_and_is_settled_by_it(
    fails: bool,
) -> None:
    """The consumer timeout hit m-1; m-2 was running beside it on the same channel. Its
    redelivery must not start a second run of the same attempt: it takes the first run's
    outcome once that run ends (acked, or retried by the queue's policy)."""
    task = Holding()

    def run(context: Any, request: Any) -> None:
        task(context, request)
        if fails and request.params.get("second"):
            raise ValueError("m-2 failed")

    async def test() -> None:
        async with running(run, options=TWO_THREADS) as r:
            r.broker.deliver("q", HOLD, FIRST)
            r.broker.deliver("q", b'{"hold": true, "second": true}', SECOND)
            await task.began()
            await task.began()
            r.broker.consuming.clear()
            r.broker.close_channel("q")  # m-1 (the oldest) timed out; m-2 still runs
            await r.broker.consuming.wait()
            again = r.broker.deliver("q", b'{"second": true}', SECOND, redelivered=True)
            task.release.set()
            results = await r.metrics.until(3)
            assert await r.stop() is ExitCode.OK
        assert sorted(task.starts) == [("q", 1), ("q", 1)], "m-1 and m-2 ran once each"
        # The first runs' acks were dropped (their channel closed); the redelivery took m-2's
        # outcome: acked, or retried by the queue's policy and then acked.
        second = ("q", "t", "retry" if fails else "ack")
        # (m-1 and m-2 end in either order.)
        assert sorted(results) == sorted([("q", "t", "dropped"), ("q", "t", "dropped"), second])
        copies = [("send", "q.retry.5s")] if fails else []
        assert r.broker.calls == [*copies, ("ack", "q", again, True)]

    try:
        scenario(test)
    finally:
        task.release.set()


def test_a_redelivery_after_a_reconnect_waits_for_the_first_run_still_going() -> None:
    task = Holding()

    async def test() -> None:
        async with running(task) as r:
            r.broker.deliver("q", HOLD, SECOND)
            await task.began()
            r.broker.consuming.clear()
            r.broker.lose()
            await r.broker.consuming.wait()  # reconnected while the task still runs
            again = r.broker.deliver("q", HOLD, SECOND, redelivered=True)
            task.release.set()
            assert await r.metrics.until(2) == [("q", "t", "dropped"), ("q", "t", "ack")]
            assert await r.stop() is ExitCode.OK
        assert task.starts == [("q", 1)], "the redelivery did not run the task again"
        assert r.broker.calls == [("ack", "q", again, True)]

    try:
        scenario(test)
    finally:
        task.release.set()
