"""Outcome copies whose fate is not known yet, without a broker: a blocked broker holds a copy,
and the worker waits for it instead of sending a second one or running the task again.

``FakeOutcomes.hold`` keeps each copy on its way (as a broker under a resource alarm does)
until the test settles it. Nothing sleeps: the harness records the waits between attempts.
"""

from __future__ import annotations

import math
from typing import Any

from worker_fakes import BODY, running, scenario

from mqwire.runtime.dispatch import Delivery, QueuePolicy, TaskEntry, failure_outcome
from mqwire.runtime.errors import ExitCode, PublishBlocked, PublishConnectionError, PublishTimeout
from mqwire.runtime.worker.policy import WorkerOptions

EXACT = WorkerOptions(copy_backoff=(0.5, 1.0), copy_jitter=0.0)
ID = {"message_id": "m-1"}
LOST = PublishConnectionError(
    "connection lost before the confirm; the broker may have the message", outcome_unknown=True
)


class Failing:
    """A plain task that fails every time and counts its runs."""

    def __init__(self) -> None:
        self.runs = 0

    def __call__(self, context: Any, request: Any) -> None:
        self.runs += 1
        raise KeyError("k")


def test_a_copy_held_by_a_blocked_broker_is_awaited_then_its_input_acked() -> None:
    task = Failing()

    async def test() -> None:
        async with running(task, options=EXACT) as r:
            r.outcomes.hold = True
            tag = r.broker.deliver("q", BODY, ID)
            await r.outcomes.until_submitted(1)
            assert r.outcomes.blocked_timeouts == [math.inf], "waits unsent while blocked"
            r.outcomes.written()
            # Other work goes on meanwhile; the held copy is neither doubled nor given up.
            assert r.metrics.results == [] and r.waits == []
            r.outcomes.settle(None)  # the alarm cleared: the broker confirms it
            assert await r.metrics.until(1) == [("q", "t", "retry")]
        assert r.broker.calls == [("send", "q.retry.5s"), ("ack", "q", tag, True)]
        assert task.runs == 1

    scenario(test)


def test_a_redelivery_while_its_copy_is_on_its_way_waits_for_that_copy() -> None:
    task = Failing()

    async def test() -> None:
        async with running(task, options=EXACT) as r:
            r.outcomes.hold = True
            r.broker.deliver("q", BODY, ID)
            await r.outcomes.until_submitted(1)
            r.outcomes.written()
            r.broker.consuming.clear()
            r.broker.lose()  # the consuming connection drops: the input comes back
            await r.broker.consuming.wait()
            again = r.broker.deliver("q", BODY, ID, redelivered=True)
            r.outcomes.settle(None)
            results = await r.metrics.until(2)
            assert sorted(results) == [("q", "t", "dropped"), ("q", "t", "retry")]
            assert r.outcomes.sent == r.outcomes.sent[:1], "one copy, never a second"
            assert r.broker.calls[-1] == ("ack", "q", again, True)
        assert task.runs == 1, "the redelivery did not run again"

    scenario(test)


def test_a_copy_whose_connection_was_lost_is_sent_again_and_its_twin_does_not_run() -> None:
    task = Failing()

    async def test() -> None:
        async with running(task, options=EXACT) as r:
            r.outcomes.errors = [LOST, None]
            r.broker.deliver("q", BODY, ID)
            assert await r.metrics.until(1) == [("q", "t", "retry")]
            assert [m.routing_key for m in r.outcomes.sent] == ["q.retry.5s"] * 2
            second = {**ID, "headers": {"x-mqwire-attempt": 2}}
            first = r.broker.deliver("q", BODY, second)  # both copies came back: one runs
            await r.metrics.until(2)
            twin = r.broker.deliver("q", BODY, second)
            results = await r.metrics.until(3)
            assert results[1:] == [("q", "t", "dead-letter"), ("q", None, "ack")]
            assert ("ack", "q", twin, True) in r.broker.calls
            assert ("ack", "q", first, True) in r.broker.calls
        assert task.runs == 2, "the retry policy's two runs, not three"
        assert r.waits == [0.5], "one wait before sending it again"

    scenario(test)


def test_a_forced_stop_withdraws_a_copy_not_sent_yet() -> None:
    async def test() -> None:
        async with running(Failing(), options=EXACT) as r:
            r.outcomes.hold = True
            r.broker.deliver("q", BODY, ID)
            await r.outcomes.until_submitted(1)
            r.worker.request_stop()
            r.worker.request_stop()  # the second stop: what is in flight is cancelled
            assert await r.run is ExitCode.FORCED_STOP
        assert r.outcomes.on_way[0].cancelled(), "withdrawn: it will never be sent"
        assert ("ack", "q", 1, True) not in r.broker.calls

    scenario(test)


def test_a_task_whose_follow_up_has_an_unknown_outcome_is_retried_with_that_reason() -> None:
    task = TaskEntry("t", lambda context, request: None, "q")
    policy = QueuePolicy("q", task, retry_delays=(1.0,))
    unknown = PublishTimeout("no confirm within 30 s; it may still arrive", outcome_unknown=True)
    try:
        try:
            raise unknown
        except PublishTimeout as exc:
            raise RuntimeError("follow-up failed") from exc
    except RuntimeError as wrapped:
        error = wrapped
    first = failure_outcome(Delivery("q", BODY, {}, "q"), policy, error)
    assert first.action.value == "retry" and first.delay == 1.0
    assert first.reason.startswith("the outcome of a publish is unknown (its message may still")
    assert first.reason.endswith("RuntimeError: follow-up failed")
    last = Delivery("q", BODY, {"headers": {"x-mqwire-attempt": 2}}, "q")
    assert failure_outcome(last, policy, error).action.value == "dead-letter", "still bounded"
    blocked = PublishBlocked("the broker blocks publishing (low on memory); not sent")
    plain = failure_outcome(Delivery("q", BODY, {}, "q"), policy, blocked)
    assert plain.reason.startswith("PublishBlocked: "), "not sent: nothing unknown about it"


def test_a_copy_refused_unsent_is_sent_again_after_a_wait_with_no_twin_expected() -> None:
    async def test() -> None:
        async with running(Failing(), options=EXACT) as r:
            r.outcomes.hold = True
            r.broker.deliver("q", BODY, ID)
            await r.outcomes.until_submitted(1)
            r.outcomes.settle(PublishBlocked("the broker blocks publishing; not sent"))
            await r.outcomes.until_submitted(2)  # refused unsent: sent again after a wait
            r.outcomes.settle(None)
            assert await r.metrics.until(1) == [("q", "t", "retry")]
            assert not r.worker._settler.expecting_twins, "nothing of the first was sent"
        assert r.waits == [0.5]

    scenario(test)


def test_a_follow_up_with_an_unknown_outcome_retries_its_input_and_says_why() -> None:
    def follow_up(context: Any, request: Any) -> None:
        raise PublishTimeout("no confirm within 30 s; it may still arrive", outcome_unknown=True)

    async def test() -> None:
        async with running(follow_up, options=EXACT) as r:
            tag = r.broker.deliver("q", BODY, ID)
            assert await r.metrics.until(1) == [("q", "t", "retry")]
            last = r.broker.deliver("q", BODY, {**ID, "headers": {"x-mqwire-attempt": 2}})
            assert await r.metrics.until(2) == [("q", "t", "retry"), ("q", "t", "dead-letter")]
        retry, dead = r.outcomes.sent
        assert retry.routing_key == "q.retry.5s", "retried per the policy, not dead-lettered"
        assert r.broker.calls == [
            ("send", "q.retry.5s"), ("ack", "q", tag, True),
            ("send", "q.dead"), ("ack", "q", last, True),
        ]  # fmt: skip
        reason = dead.properties["headers"]["x-mqwire-reason"]
        assert reason.startswith("the outcome of a publish is unknown (its message may still ")

    scenario(test)
