"""The worker's AMQP edge turns every pika error into ``Lost`` or a fatal ``WorkerError``.

pika's objects are replaced by small fakes that raise pika's own exceptions, synchronously (a
call on a closed channel) or through a close callback (the broker closed it); the real path
against RabbitMQ is covered by the ``mserve`` tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pika  # type: ignore[import-untyped]
import pytest
from pika import spec

from mqwire.runtime.amqp.session import AmqpSession, PikaConsumerChannel, session_factory
from mqwire.runtime.dispatch import Delivery
from mqwire.runtime.errors import ConfigurationError, ExitCode, Lost, WorkerError
from mqwire.topology.declarations import (
    BindingDeclaration,
    Declarations,
    ExchangeDeclaration,
    QueueDeclaration,
)

CLOSED = pika.exceptions.ChannelWrongStateError("Channel is closed.")


class PikaChannel:
    """Answers each call at once through its callback, or raises ``error`` at once."""

    def __init__(self) -> None:
        self.is_open = True
        self.consumer_tags = ["ctag-1"]
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.error: Exception | None = None
        self.on_close: Callable[[Any, BaseException], None] | None = None

    def add_on_close_callback(self, callback: Callable[[Any, BaseException], None]) -> None:
        self.on_close = callback

    def __getattr__(self, name: str) -> Callable[..., None]:
        def call(*args: Any, callback: Callable[[Any], None] | None = None, **kwargs: Any) -> None:
            if self.error is not None:
                raise self.error
            self.calls.append((name, kwargs))
            if callback is not None:
                callback(None)

        return call


class PikaConnection:
    params = pika.ConnectionParameters()  # channel_max: pika's own limit, as if negotiated

    def __init__(self, channel: PikaChannel) -> None:
        self._channel = channel

    def channel(self, on_open_callback: Callable[[Any], None]) -> None:
        on_open_callback(self._channel)


def no_close(reason: str, consumer_timeout: bool) -> None:
    raise AssertionError(f"no channel close expected: {reason}")


def opened_session(channel: PikaChannel) -> AmqpSession:
    session = AmqpSession(None, "amqp://fake/", lambda reason: None)
    session.connection = PikaConnection(channel)
    return session


def test_acks_and_nacks_on_a_closed_channel_raise_lost() -> None:
    pika_channel = PikaChannel()
    pika_channel.error = CLOSED
    channel = PikaConsumerChannel(pika_channel)

    with pytest.raises(Lost, match="acking: ChannelWrongStateError"):
        channel.basic_ack(1, multiple=True)
    with pytest.raises(Lost, match="requeueing: ChannelWrongStateError"):
        channel.basic_nack(1, requeue=True)
    channel.cancel()  # the close ends its consumers anyway: nothing to report


def test_cancel_ends_each_consumer_of_an_open_channel_only() -> None:
    pika_channel = PikaChannel()
    PikaConsumerChannel(pika_channel).cancel()
    pika_channel.is_open = False
    PikaConsumerChannel(pika_channel).cancel()

    assert [name for name, _ in pika_channel.calls] == ["basic_cancel"]


def test_consume_hands_the_worker_decoded_deliveries_on_its_channel() -> None:
    received: list[tuple[Any, Delivery]] = []

    async def main() -> Any:
        session = opened_session(PikaChannel())
        channel = await session.consume(
            "q", 7, lambda ch, d: received.append((ch, d)), lambda: None, no_close
        )
        return channel, session

    channel, _ = asyncio.run(main())
    pika_channel = channel._channel
    (qos, consume) = pika_channel.calls[1:]
    assert qos == ("basic_qos", {"prefetch_count": 7})
    assert consume[0] == "basic_consume" and consume[1]["queue"] == "q"
    method = spec.Basic.Deliver("ctag-1", 5, True, "x", "rk")
    props = spec.BasicProperties(content_type="application/json", message_id="m-1")
    consume[1]["on_message_callback"](pika_channel, method, props, b"{}")

    props_dict = {"content_type": "application/json", "message_id": "m-1"}
    assert received == [(channel, Delivery("q", b"{}", props_dict, "rk", "x", True, 5))]


def test_a_call_on_a_closed_channel_is_lost_with_what_was_being_done() -> None:
    pika_channel = PikaChannel()

    async def main() -> None:
        session = opened_session(pika_channel)
        pika_channel.error = CLOSED
        await session.consume("q", 1, lambda ch, d: None, lambda: None, no_close)

    with pytest.raises(Lost, match="watching for cancels: ChannelWrongStateError"):
        asyncio.run(main())


def test_no_connection_is_lost_not_an_attribute_error() -> None:
    async def main() -> None:
        await AmqpSession(None, "amqp://fake/", lambda reason: None).declare(Declarations())

    with pytest.raises(Lost, match="opening a channel"):
        asyncio.run(main())


@pytest.mark.parametrize(
    ("code", "text", "exit_code"),
    [
        (406, "PRECONDITION_FAILED - inequivalent arg", ExitCode.TOPOLOGY_MISMATCH),
        (403, "ACCESS_REFUSED - no configure permission", ExitCode.CONFIG),
    ],
)
def test_a_channel_the_broker_closes_while_declaring_is_fatal_when_retrying_cannot_help(
    code: int, text: str, exit_code: ExitCode
) -> None:
    class ClosedByBroker(PikaChannel):
        def queue_declare(self, callback: Callable[[Any], None], **kwargs: Any) -> None:
            assert self.on_close is not None
            self.on_close(self, pika.exceptions.ChannelClosedByBroker(code, text))

    losses: list[str] = []

    async def main() -> None:
        session = AmqpSession(None, "amqp://fake/", losses.append)
        session.connection = PikaConnection(ClosedByBroker())
        await session.declare(Declarations(queues=(QueueDeclaration("q"),)))

    with pytest.raises(WorkerError) as caught:
        asyncio.run(main())
    assert caught.value.exit_code is exit_code
    assert "declaring queue 'q'" in str(caught.value)
    assert losses == [f"channel closed: ChannelClosedByBroker: {code} {text}"]


def test_a_stop_request_ends_a_pending_call_with_lost() -> None:
    class Silent(PikaChannel):
        def basic_qos(self, callback: Callable[[Any], None], **kwargs: Any) -> None:
            session.interrupt()  # the broker never answers; the stop ends the wait

    session = AmqpSession(None, "amqp://fake/", lambda reason: None)
    session.connection = PikaConnection(Silent())

    with pytest.raises(Lost, match="setting qos: ConnectionAbortedError: stop requested"):
        asyncio.run(session.consume("q", 1, lambda ch, d: None, lambda: None, no_close))


def test_the_factory_checks_the_url_and_names_the_connection() -> None:
    with pytest.raises(ConfigurationError, match=r"invalid AMQP URL amqp://u:\*\*\*@h/"):
        session_factory("amqp://u:secret@h/?heartbeat=abc", name="w")

    session = session_factory("amqp://u:secret@h/", name="w", heartbeat=4)(lambda r: None)
    assert session.masked_url == "amqp://u:***@h/"
    assert session._params.heartbeat == 4
    assert session._params.client_properties == {"connection_name": "mserve:w"}


TIMED_OUT = (
    "PRECONDITION_FAILED - delivery acknowledgement on channel 1 timed out. Timeout value "
    "used: 2000 ms. This timeout value can be configured, see consumers doc guide to learn more"
)  # what RabbitMQ 3.10.8 sends (seen on a private node)


@pytest.mark.parametrize(
    ("code", "text", "timed_out"),
    [(406, TIMED_OUT, True), (406, "PRECONDITION_FAILED - unknown delivery tag 9", False)],
)
def test_the_broker_closing_a_consuming_channel_closes_that_channel_only(
    code: int, text: str, timed_out: bool
) -> None:
    closes: list[tuple[str, bool]] = []
    losses: list[str] = []
    pika_channel = PikaChannel()

    async def main() -> None:
        session = AmqpSession(None, "amqp://fake/", losses.append)
        session.connection = PikaConnection(pika_channel)
        await session.consume("q", 1, lambda ch, d: None, lambda: None, lambda *c: closes.append(c))

    asyncio.run(main())
    assert pika_channel.on_close is not None
    pika_channel.on_close(pika_channel, pika.exceptions.ChannelClosedByBroker(code, text))

    assert closes == [(f"channel of 'q' closed: ChannelClosedByBroker: {code} {text}", timed_out)]
    assert losses == [], "the session is not lost"


def test_a_connection_loss_reaches_a_consuming_channel_as_the_connection_s_loss_only() -> None:
    pika_channel = PikaChannel()

    async def main() -> None:
        session = opened_session(pika_channel)
        await session.consume("q", 1, lambda ch, d: None, lambda: None, no_close)

    asyncio.run(main())
    assert pika_channel.on_close is not None
    pika_channel.on_close(pika_channel, pika.exceptions.StreamLostError("lost"))  # no_close: ok


def test_a_consuming_channel_closed_while_it_is_set_up_ends_the_setup_with_lost() -> None:
    class ClosedOnQos(PikaChannel):
        def basic_qos(self, callback: Callable[[Any], None], **kwargs: Any) -> None:
            assert self.on_close is not None  # the broker refuses, and never answers the qos
            self.on_close(self, pika.exceptions.ChannelClosedByBroker(406, "PRECONDITION_FAILED"))

    closes: list[tuple[str, bool]] = []

    async def main() -> None:
        session = opened_session(ClosedOnQos())
        await session.consume("q", 1, lambda ch, d: None, lambda: None, lambda *c: closes.append(c))

    with pytest.raises(Lost, match="setting qos: ChannelClosedByBroker: 406"):
        asyncio.run(main())
    assert len(closes) == 1


class Answering(PikaChannel):
    """Answers on a later loop turn, so the other channels' calls are pending meanwhile; the
    broker refuses (closes this channel) a ``queue_declare`` of ``refuse``."""

    def __init__(self, log: list[tuple[str, dict[str, Any]]], refuse: str = "") -> None:
        super().__init__()
        self.log, self.refuse = log, refuse
        self.mine: list[str] = []  # the names of this channel's calls

    def __getattr__(self, name: str) -> Callable[..., None]:
        def call(*args: Any, callback: Callable[[Any], None] | None = None, **kwargs: Any) -> None:
            self.log.append((name, kwargs))
            self.mine.append(name)
            loop = asyncio.get_running_loop()
            if name == "queue_declare" and kwargs["queue"] == self.refuse:
                refused = pika.exceptions.ChannelClosedByBroker(406, "PRECONDITION_FAILED")
                assert self.on_close is not None  # a turn late: another channel's call waits
                loop.call_soon(loop.call_soon, self.on_close, self, refused)
            elif callback is not None:
                loop.call_soon(callback, None)

        return call


class Channels:
    """A connection that opens a new ``Answering`` channel each time."""

    def __init__(self, refuse: str = "", channel_max: int = 2047) -> None:
        self.log: list[tuple[str, dict[str, Any]]] = []
        self.opened: list[Answering] = []
        self.refuse = refuse
        self.params = pika.ConnectionParameters(channel_max=channel_max)

    def channel(self, on_open_callback: Callable[[Any], None]) -> None:
        self.opened.append(Answering(self.log, self.refuse))
        on_open_callback(self.opened[-1])


PLAN = Declarations(
    exchanges=(ExchangeDeclaration("ev"),),
    queues=tuple(QueueDeclaration(f"q{i}") for i in range(8)),
    bindings=tuple(BindingDeclaration(f"q{i}", "ev", f"k{i}") for i in range(8)),
)


def test_declarations_are_dealt_over_channels_each_queue_followed_by_its_bindings() -> None:
    connection = Channels()

    async def main() -> None:
        session = AmqpSession(None, "amqp://fake/", lambda reason: None)
        session.connection = connection
        await session.declare(PLAN)

    asyncio.run(main())
    names = [name for name, _ in connection.log]
    assert len(connection.opened) == len(PLAN.queues) > 1  # a channel per queue, here
    assert names.count("exchange_declare") == 1
    assert sorted(kw["queue"] for n, kw in connection.log if n == "queue_declare") == sorted(
        q.name for q in PLAN.queues
    )
    assert sorted(kw["routing_key"] for n, kw in connection.log if n == "queue_bind") == sorted(
        b.routing_key for b in PLAN.bindings
    )
    # the exchange first; each queue's binding after it, on its channel, not after every queue
    assert names.index("exchange_declare") < names.index("queue_declare")
    first, *others = (channel.mine for channel in connection.opened)
    assert first == ["exchange_declare", "queue_declare", "queue_bind", "close"]
    assert others == [["queue_declare", "queue_bind", "close"]] * (len(PLAN.queues) - 1)
    assert names.count("close") == len(connection.opened)  # every declaring channel, at the end
    assert names[-len(connection.opened) :] == ["close"] * len(connection.opened)


def test_a_refused_declaration_is_reported_as_itself_not_as_another_one_pending() -> None:
    connection = Channels(refuse="q5")
    losses: list[str] = []

    async def main() -> None:
        session = AmqpSession(None, "amqp://fake/", losses.append)
        session.connection = connection
        await session.declare(PLAN)

    with pytest.raises(WorkerError) as caught:
        asyncio.run(main())
    assert caught.value.exit_code is ExitCode.TOPOLOGY_MISMATCH
    assert "declaring queue 'q5'" in str(caught.value)
    assert losses == ["channel closed: ChannelClosedByBroker: 406 PRECONDITION_FAILED"]
    assert not any(kw.get("queue") == "q5" for n, kw in connection.log if n == "queue_bind")


def declaring_and_consuming(connection: Channels) -> None:
    """What a worker's start-up does: declare, and meanwhile set up a consuming channel."""

    async def main() -> None:
        session = AmqpSession(None, "amqp://fake/", lambda reason: None)
        session.connection = connection
        declared = asyncio.ensure_future(session.declare(PLAN, keep_free=1))
        no_close = lambda *closed: None  # noqa: E731
        await session.consume("q0", 1, lambda ch, d: None, lambda: None, no_close, declared)

    asyncio.run(main())


def test_a_consuming_channel_is_set_up_during_the_declarations_and_consumes_after_them() -> None:
    connection = Channels()

    declaring_and_consuming(connection)

    names = [name for name, _ in connection.log]
    declaring = ("exchange_declare", "queue_declare", "queue_bind")
    last_declaration = max(i for i, name in enumerate(names) if name in declaring)
    assert names.index("basic_qos") < last_declaration  # while the broker creates queues
    assert names.index("basic_consume") > last_declaration  # never before all are declared


def test_a_refused_declaration_fails_the_consuming_channel_before_it_consumes() -> None:
    connection = Channels(refuse="q5")

    with pytest.raises(WorkerError) as caught:
        declaring_and_consuming(connection)

    assert "declaring queue 'q5'" in str(caught.value)
    assert "basic_qos" in [name for name, _ in connection.log]
    assert "basic_consume" not in [name for name, _ in connection.log]


def test_an_exchange_binding_is_declared_with_exchange_bind_after_both_exchanges() -> None:
    connection = Channels()
    ladder = Declarations(
        exchanges=(ExchangeDeclaration("ev"), ExchangeDeclaration("ev.delay")),
        bindings=(BindingDeclaration("ev", "ev.delay", "#", destination_type="exchange"),),
    )

    async def main() -> None:
        session = AmqpSession(None, "amqp://fake/", lambda reason: None)
        session.connection = connection
        await session.declare(ladder)

    asyncio.run(main())
    declared = [(n, kw) for n, kw in connection.log if n != "close"]
    assert declared[-1] == (
        "exchange_bind",
        {"destination": "ev", "source": "ev.delay", "routing_key": "#"},
    )
    assert sorted(kw["exchange"] for n, kw in declared[:-1]) == ["ev", "ev.delay"]
