"""Stopping the worker without a broker: grace, forced stops, late deliveries, fatal errors."""

from __future__ import annotations

import asyncio
from typing import Any

from worker_fakes import BODY, BusyThread, running, scenario

from mqwire.runtime.errors import ExitCode, Lost, WorkerError
from mqwire.runtime.worker.policy import WorkerOptions

#: What the metrics record for a message given back because of the stop (no task: it never ended).
STOPPED = ("q", None, "requeue")


def test_a_graceful_stop_lets_the_task_finish_and_gives_late_deliveries_back() -> None:
    async def test() -> None:
        gate = asyncio.get_running_loop().create_future()

        async def gated(context: Any, request: Any) -> None:
            await gate

        async with running(gated) as r:
            tag = r.broker.deliver("q", BODY)
            r.worker.request_stop()
            assert r.broker.sessions[0].interrupted
            late = r.broker.deliver("q", BODY)  # sent before the broker saw our cancel
            assert r.broker.calls == [("nack", "q", late, True)]
            assert r.worker.readiness() == (False, "w: stopping")
            gate.set_result(None)
            assert await r.run is ExitCode.OK
        assert r.broker.channel("q").cancelled
        assert r.broker.calls == [("nack", "q", late, True), ("ack", "q", tag, True)]
        assert r.metrics.results == [("q", "t", "ack")]  # the late one never started

    scenario(test)


def test_when_the_grace_period_is_over_the_message_is_left_to_the_closing_connection() -> None:
    async def hang(context: Any, request: Any) -> None:
        await asyncio.Event().wait()  # only the stop ends it

    async def test() -> None:
        async with running(hang, options=WorkerOptions(grace=0.01)) as r:
            r.broker.deliver("q", BODY)
            assert await r.stop() is ExitCode.FORCED_STOP
            assert await r.metrics.until(1) == [STOPPED]
        assert r.broker.calls == []  # no ack may cover it; closing the connection requeues it
        assert r.broker.sessions[0].closed

    scenario(test)


def test_a_second_stop_request_cancels_the_task_and_leaves_the_message_unsettled() -> None:
    cancelled: list[bool] = []

    async def test() -> None:
        began = asyncio.Event()

        async def hang(context: Any, request: Any) -> None:
            began.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.append(True)
                raise

        async with running(hang) as r:
            r.broker.deliver("q", BODY)
            await began.wait()
            r.worker.request_stop()
            r.worker.request_stop()
            assert await r.run is ExitCode.FORCED_STOP
            assert await r.metrics.until(1) == [STOPPED]
        assert r.broker.calls == [] and cancelled == [True]

    scenario(test)


def test_a_plain_task_still_waiting_for_a_thread_at_stop_is_requeued_unrun() -> None:
    busy = BusyThread()

    async def test() -> None:
        async with running(busy) as r:  # one thread
            first = await busy.occupy(r.broker)
            waiting = r.broker.deliver("q", BODY)
            r.worker.request_stop()
            assert await r.metrics.until(1) == [STOPPED]
            busy.release.set()
            assert await r.run is ExitCode.OK
        assert r.broker.calls == [("nack", "q", waiting, True), ("ack", "q", first, True)]
        assert busy.ran == [first]

    try:
        scenario(test)
    finally:
        busy.release.set()


def test_a_fatal_error_while_connecting_ends_the_worker_with_its_exit_code() -> None:
    refused = WorkerError("the broker refused the credentials", ExitCode.CONFIG)

    async def test() -> None:
        async with running(lambda c, r: None, connect_errors=[refused]) as r:
            assert await r.run is ExitCode.CONFIG
        assert r.outcomes.closed and r.broker.calls == []

    scenario(test)


def test_a_refused_declaration_ends_the_worker_before_any_queue_is_consumed() -> None:
    """The consuming channels are set up while the broker declares; the refusal is what the
    worker reports (not the loss it caused on a channel being set up), and none consumes."""
    refused = WorkerError(
        "declaring queue 'q': 406 PRECONDITION_FAILED", ExitCode.TOPOLOGY_MISMATCH
    )
    lost = Lost("setting qos: ChannelClosedByBroker: 406 PRECONDITION_FAILED")

    async def test() -> None:
        running_worker = running(
            lambda c, r: None, plan_errors=[refused], consume_errors=[lost], others=["q2"]
        )
        async with running_worker as r:
            assert await asyncio.wait_for(r.run, 10) is ExitCode.TOPOLOGY_MISMATCH
        assert r.broker.consumed == [] and r.broker.declared == []

    scenario(test)


def test_a_broker_unreachable_longer_than_allowed_ends_the_worker() -> None:
    options = WorkerOptions(max_unreachable=0)

    async def test() -> None:
        lost = Lost("connecting to amqp://fake/: ConnectionRefusedError")
        async with running(lambda c, r: None, options=options, connect_errors=[lost]) as r:
            assert await r.run is ExitCode.UNREACHABLE
        assert r.outcomes.closed

    scenario(test)
