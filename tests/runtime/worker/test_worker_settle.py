"""A copy that cannot be published, without a broker: bounded attempts, park or reject, redeclare,
and redeliveries settled from the ledger instead of running the task again.

The fakes record every call; the waits between attempts are recorded by the harness, never slept.
"""

from __future__ import annotations

import asyncio
from typing import Any

from worker_fakes import BODY, QUEUE, FakeBroker, running, scenario

from mqwire.runtime.errors import EncodeError, ExitCode, Lost, PublishNacked, Unroutable
from mqwire.runtime.worker.policy import WorkerOptions
from mqwire.topology.model import Queue

NACKED = PublishNacked("refused by the broker (basic.nack)", routing_key="q.retry.5s")
EXACT = WorkerOptions(copy_backoff=(0.5, 1.0, 2.0, 4.0, 8.0), copy_jitter=0.0)
ID = {"message_id": "m-1"}
LAST = {"message_id": "m-1", "headers": {"x-mqwire-attempt": 2}}  # dead-lettered on failure


class Failing:
    """A plain task (run on a thread) that fails every time and counts its runs."""

    def __init__(self) -> None:
        self.runs = 0

    def __call__(self, context: Any, request: Any) -> None:
        self.runs += 1
        raise KeyError("k")


def test_a_copy_never_confirmed_is_tried_on_the_schedule_then_its_queue_is_parked() -> None:
    task = Failing()

    async def test() -> None:
        async with running(task, publish_error=NACKED, options=EXACT, others=["q2"]) as r:
            tag = r.broker.deliver("q", BODY, ID)
            assert await r.metrics.until(1) == [("q", "t", "parked")]
            assert r.waits == [0.5, 1.0, 2.0, 4.0, 8.0]
            assert r.broker.calls == [("send", "q.retry.5s")] * 6, "held: neither acked nor nacked"
            assert r.broker.channel("q").cancelled and not r.broker.channel("q2").cancelled
            ready, why = r.worker.readiness()
            assert not ready and why.startswith("w: parked q: message m-1 could not move it to")
            assert "'q.retry.5s'" in why and "PublishNacked" in why
            r.outcomes.error = None
            other = r.broker.deliver("q2", BODY)  # the other queue goes on (no retries: dead)
            assert await r.metrics.until(2) == [("q", "t", "parked"), ("q2", "t-q2", "dead-letter")]
            assert r.broker.calls[-2:] == [("send", "q2.dead"), ("ack", "q2", other, True)]
            assert await r.stop() is ExitCode.OK
        assert task.runs == 2, "once per message: the parked one never ran again"
        assert ("ack", "q", tag, True) not in r.broker.calls
        assert r.metrics.snapshot()["mqwire_messages_parked_total"] == 1

    scenario(test)


def test_the_waits_are_jittered_below_the_schedule_by_default() -> None:
    async def test() -> None:
        async with running(Failing(), publish_error=NACKED) as r:
            r.broker.deliver("q", BODY, ID)
            await r.metrics.until(1)
        assert len(r.waits) == 5
        for wait, base in zip(r.waits, (0.5, 1.0, 2.0, 4.0, 8.0), strict=True):
            assert base / 2 <= wait <= base

    scenario(test)


def test_with_a_broker_dead_letter_exchange_the_input_is_rejected_not_parked() -> None:
    queue = Queue("q", arguments={"x-dead-letter-exchange": "dlx"}, retry=QUEUE.retry)

    async def test() -> None:
        async with running(Failing(), publish_error=NACKED, options=EXACT, queue=queue) as r:
            tag = r.broker.deliver("q", BODY, ID)
            assert await r.metrics.until(1) == [("q", "t", "rejected")]
            assert r.worker.readiness()[0] and not r.broker.channel("q").cancelled
        assert r.broker.calls == [("send", "q.retry.5s")] * 6 + [("nack", "q", tag, False)]

    scenario(test)


def test_a_copy_that_cannot_be_encoded_is_not_tried_again() -> None:
    async def test() -> None:
        async with running(Failing(), options=EXACT) as r:
            r.outcomes.raises = EncodeError("header cannot be encoded")
            r.broker.deliver("q", BODY, ID)
            assert await r.metrics.until(1) == [("q", "t", "parked")]
            assert r.waits == [] and r.broker.calls == [("send", "q.retry.5s")]

    scenario(test)


def test_an_unroutable_copy_redeclares_its_queue_then_is_published_again() -> None:
    task = Failing()

    async def test() -> None:
        async with running(task, options=EXACT) as r:
            missing = Unroutable("unroutable, returned by the broker: 312 NO_ROUTE")
            r.outcomes.errors = [missing]
            retried = r.broker.deliver("q", BODY, ID)
            assert await r.metrics.until(1) == [("q", "t", "retry")]
            r.outcomes.errors = [missing]
            dead = r.broker.deliver("q", BODY, LAST)
            assert await r.metrics.until(2) == [("q", "t", "retry"), ("q", "t", "dead-letter")]
            await r.stop()
        assert [call[:3] for call in r.broker.calls] == [
            ("send", "q.retry.5s"), ("declare", "q.retry.5s"), ("send", "q.retry.5s"),
            ("ack", "q", retried),
            ("send", "q.dead"), ("declare", "q.dead"), ("send", "q.dead"), ("ack", "q", dead),
        ]  # fmt: skip
        assert r.waits == [], "published again at once after the redeclare"
        assert task.runs == 2

    scenario(test)


def test_a_redeclare_that_fails_costs_an_attempt_and_its_wait() -> None:
    async def test() -> None:
        async with running(Failing(), options=EXACT) as r:
            r.broker.declare_error = Lost("declaring queue 'q.retry.5s': connection closed")
            r.outcomes.errors = [Unroutable("312 NO_ROUTE")] * 2
            tag = r.broker.deliver("q", BODY, ID)
            assert await r.metrics.until(1) == [("q", "t", "retry")]
            await r.stop()
        assert r.waits == [0.5, 1.0]
        assert r.broker.calls == [
            ("send", "q.retry.5s"), ("declare", "q.retry.5s"),
            ("send", "q.retry.5s"), ("declare", "q.retry.5s"),
            ("send", "q.retry.5s"), ("ack", "q", tag, True),
        ]  # fmt: skip

    scenario(test)


def test_a_copy_whose_input_channel_closed_is_not_tried_again() -> None:
    brokers: list[FakeBroker] = []

    def lose() -> None:  # the connection drops while the copy waits for its second attempt
        brokers[0].consuming.clear()
        brokers[0].lose()

    async def test() -> None:
        async with running(Failing(), publish_error=NACKED, on_wait=lose) as r:
            brokers.append(r.broker)
            r.broker.deliver("q", BODY, ID)
            assert await r.metrics.until(1) == [("q", "t", "dropped")]
            await r.broker.consuming.wait()
            assert r.worker.readiness() == (True, "w: consuming 1 queue(s)"), "nothing parked"
        assert len(r.waits) == 1 and r.broker.calls == [("send", "q.retry.5s")]

    scenario(test)


def test_a_parked_message_redelivered_after_a_reconnect_is_settled_without_running() -> None:
    task = Failing()

    async def test() -> None:
        async with running(task, publish_error=NACKED, options=EXACT) as r:
            r.broker.deliver("q", BODY, ID)
            await r.metrics.until(1)
            r.broker.consuming.clear()
            r.broker.lose()
            await r.broker.consuming.wait()
            assert r.worker.readiness() == (True, "w: consuming 1 queue(s)")
            r.outcomes.error = None  # the operator fixed the delay queue
            tag = r.broker.deliver("q", BODY, ID, redelivered=True)
            assert await r.metrics.until(2) == [("q", "t", "parked"), ("q", "t", "retry")]
            await r.stop()
        assert task.runs == 1, "decided once: the redelivery only published its copy"
        assert r.broker.calls[-2:] == [("send", "q.retry.5s"), ("ack", "q", tag, True)]
        headers = [m.properties["headers"]["x-mqwire-attempt"] for m in r.outcomes.sent]
        assert set(headers) == {2}

    scenario(test)


def test_a_success_whose_ack_was_lost_is_acked_on_redelivery_without_running() -> None:
    runs: list[int] = []

    async def test() -> None:
        gate = asyncio.get_running_loop().create_future()

        async def gated(context: Any, request: Any) -> None:
            runs.append(request.delivery_tag)
            if not request.redelivered:
                await gate

        async with running(gated) as r:
            r.broker.deliver("q", BODY, ID)
            r.broker.consuming.clear()
            r.broker.lose()
            await r.broker.consuming.wait()
            gate.set_result(None)
            assert await r.metrics.until(1) == [("q", "t", "dropped")]
            tag = r.broker.deliver("q", BODY, ID, redelivered=True)
            other = r.broker.deliver("q", BODY, {"message_id": "m-2"}, redelivered=True)
            assert await r.metrics.until(3) == [("q", "t", "dropped"), *[("q", "t", "ack")] * 2]
            await r.stop()
        assert runs == [1, other], "m-1 ran once; m-2, never decided here, runs"
        assert (tag, other) == (1, 2)
        assert r.broker.calls[-1] == ("ack", "q", other, True), "both acked, none nacked"
        assert {call[0] for call in r.broker.calls} == {"ack"}

    scenario(test)
