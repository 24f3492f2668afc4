"""AmqpTransport against a real RabbitMQ: per-message outcomes, concurrency, faults, close.

Faults are injected per connection (``rabbitmqctl close_connection``) or per queue (suspending
one queue's Erlang process with ``rabbitmqctl eval``, which holds back its confirms); never
node-wide, since other tests share the broker. Tests without the ``broker`` mark need none.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import quote

import pika  # type: ignore[import-untyped]
import pytest
from pika import spec
from topology_setup import connection_pids

from mqwire.runtime._fastpath.switch import ENV, decide
from mqwire.runtime.amqp.transport import AmqpTransport
from mqwire.runtime.errors import (
    ConfigurationError,
    EncodeError,
    PublishConnectionError,
    PublishError,
    PublishNacked,
    PublishTimeout,
    Unroutable,
)
from mqwire.runtime.wire import WireMessage
from mqwire.testing import wait_until

Outcomes = list[PublishError | None]


def messages(routing_key: str, count: int, exchange: str = "", **props: Any) -> list[WireMessage]:
    return [
        WireMessage(exchange, routing_key, b"{}", uuid.uuid4().hex, properties=props)
        for _ in range(count)
    ]


def io_threads(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"mqwire.publisher[{name}]"]


def record_callers(transport: AmqpTransport, method: str, into: list[str]) -> None:
    """Wrap one of the transport's methods: note the name of every thread that calls it."""
    real = getattr(transport, method)

    def wrapper(*args: Any) -> Any:
        into.append(threading.current_thread().name)
        return real(*args)

    setattr(transport, method, wrapper)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Broker:
    """A separate BlockingConnection that declares what a test needs and deletes it after."""

    def __init__(self, url: str) -> None:
        self.connection = pika.BlockingConnection(pika.URLParameters(url))
        self.channel = self.connection.channel()
        self.queues: list[str] = []
        self.exchanges: list[str] = []

    def queue(self, name: str, **arguments: Any) -> str:
        durable = bool(arguments.pop("durable", False))
        self.channel.queue_declare(name, durable=durable, arguments=arguments or None)
        self.queues.append(name)
        return name

    def exchange(self, name: str, kind: str = "topic") -> str:
        self.channel.exchange_declare(name, kind)
        self.exchanges.append(name)
        return name

    def ids(self, queue: str) -> list[str]:
        """Every message_id in ``queue``, in queue order; consumes them."""
        count = self.channel.queue_declare(queue, passive=True).method.message_count
        found: list[str] = []
        if count:  # a consumer, not basic_get: some tests leave thousands
            for method, properties, _ in self.channel.consume(
                queue, auto_ack=True, inactivity_timeout=10
            ):
                assert method is not None, f"{queue} delivered {len(found)} of {count}"
                found.append(properties.message_id)
                if len(found) == count:
                    break
            self.channel.cancel()
        assert self.channel.basic_get(queue, auto_ack=True)[0] is None, "more than counted"
        return found

    def close(self) -> None:
        for queue in self.queues:
            self.channel.queue_delete(queue)
        for exchange in self.exchanges:
            self.channel.exchange_delete(exchange)
        self.connection.close()


@pytest.fixture
def broker(amqp_url: str) -> Iterator[Broker]:
    b = Broker(amqp_url)
    yield b
    b.close()


@pytest.fixture
def make_transport(unique_name: str) -> Iterator[Callable[..., AmqpTransport]]:
    """Transports named after the test (their connections can be found by name); all closed."""
    made: list[AmqpTransport] = []

    def make(url: str, **kwargs: Any) -> AmqpTransport:
        kwargs.setdefault("name", f"{unique_name}.{len(made)}")
        made.append(AmqpTransport(url, **kwargs))
        return made[-1]

    yield make
    for transport in made:
        transport.close()
    leaked = [t.name for t in threading.enumerate() if t.name.startswith("mqwire.publisher[")]
    assert not leaked, f"I/O threads still running after close(): {leaked}"


def mqwire_lines(caplog: pytest.LogCaptureFixture, word: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "mqwire.publisher" and word in r.getMessage()
    ]


# -- broker tests ---------------------------------------------------------------------------


@pytest.mark.broker
def test_one_send_of_500_persistent_messages_lands_exactly_once(
    amqp_url: str, broker: Broker, make_transport: Callable[..., AmqpTransport], unique_name: str
) -> None:
    queue = broker.queue(unique_name, durable=True)
    batch = messages(queue, 500, delivery_mode=2)
    transport = make_transport(amqp_url)

    assert transport.send(batch) == [None] * 500

    found = broker.ids(queue)
    assert len(found) == 500
    assert set(found) == {m.message_id for m in batch}


@pytest.mark.broker
def test_bodies_spanning_several_frames_arrive_intact_beside_small_ones(
    amqp_url: str, broker: Broker, make_transport: Callable[..., AmqpTransport], unique_name: str
) -> None:
    # Each message's frames go out as one write: a body above frame_max (128 KiB) is several
    # body frames, and the stream must still parse, in order, between small messages.
    queue = broker.queue(unique_name)
    bodies = [b"a", bytes(range(256)) * 1200, b"", b"z" * 131_065, b"b"]
    batch = [WireMessage("", queue, body, f"m{i}") for i, body in enumerate(bodies)]

    assert make_transport(amqp_url).send(batch) == [None] * len(batch)

    got = []
    for _ in bodies:
        method, properties, body = broker.channel.basic_get(queue, auto_ack=True)
        assert method is not None, f"only {len(got)} of {len(bodies)} arrived"
        got.append((properties.message_id, body))
    assert got == [(m.message_id, m.body) for m in batch]


@pytest.mark.broker
def test_once_connected_the_caller_publishes_and_confirms_itself_in_order(
    amqp_url: str, broker: Broker, make_transport: Callable[..., AmqpTransport], unique_name: str
) -> None:
    queue = broker.queue(unique_name)
    transport = make_transport(amqp_url, fastpath=decide({ENV: "on"}))  # the shared I/O loop
    assert transport.send(messages(queue, 1)) == [None]  # connects through the I/O thread
    handed_over: list[Any] = []
    real_add = transport._loop.add_callback_threadsafe
    transport._loop.add_callback_threadsafe = lambda cb: (handed_over.append(cb), real_add(cb))

    settled_on: list[str] = []
    record_callers(transport, "_io_settle", settled_on)
    batch = messages(queue, 100)
    outcomes = [transport.send([m])[0] for m in batch]

    assert outcomes == [None] * 100
    assert handed_over == [], "a caller woke the I/O thread instead of sending itself"
    # ...and read its own confirm: it leads the socket from the moment it published, so the
    # I/O thread never sees one (it used to take some on a loaded machine).
    mine = settled_on.count(threading.current_thread().name)
    assert mine == 100, f"the caller read {mine} of 100 confirms itself"
    assert broker.ids(queue)[1:] == [m.message_id for m in batch]


@pytest.mark.broker
def test_without_the_shared_loop_only_the_io_thread_touches_the_connection(
    amqp_url: str, broker: Broker, make_transport: Callable[..., AmqpTransport], unique_name: str
) -> None:
    queue = broker.queue(unique_name)
    transport = make_transport(amqp_url, fastpath=decide({ENV: "off"}))
    assert transport.send(messages(queue, 1)) == [None]
    touched_on: list[str] = []
    record_callers(transport, "_io_publish", touched_on)
    record_callers(transport, "_io_settle", touched_on)
    batch = messages(queue, 20)
    assert [transport.send([m])[0] for m in batch] == [None] * 20

    assert set(touched_on) == {f"mqwire.publisher[{transport._name}]"}
    assert broker.ids(queue)[1:] == [m.message_id for m in batch]


@pytest.mark.broker
def test_eight_threads_share_one_connection(
    amqp_url: str,
    broker: Broker,
    make_transport: Callable[..., AmqpTransport],
    unique_name: str,
    rabbitmqctl: Callable[..., str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="mqwire.publisher")
    queue = broker.queue(unique_name)
    transport = make_transport(amqp_url)
    per_thread = [messages(queue, 50) for _ in range(8)]
    outcomes: list[Outcomes] = [[] for _ in range(8)]
    start = threading.Barrier(8)

    def publish(i: int) -> None:
        start.wait()
        for message in per_thread[i]:
            outcomes[i].extend(transport.send([message]))

    threads = [threading.Thread(target=publish, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)

    assert outcomes == [[None] * 50] * 8
    assert set(broker.ids(queue)) == {m.message_id for ms in per_thread for m in ms}
    assert len(connection_pids(rabbitmqctl, transport._name)) == 1
    assert len(mqwire_lines(caplog, "connected to")) == 1  # also not opened, lost and reopened


@pytest.mark.broker
def test_unroutable_message_is_reported_and_its_neighbour_is_not(
    amqp_url: str, broker: Broker, make_transport: Callable[..., AmqpTransport], unique_name: str
) -> None:
    exchange = broker.exchange(unique_name + ".x")
    queue = broker.queue(unique_name)
    broker.channel.queue_bind(queue, exchange, "order.created")
    lost, kept = (messages(key, 1, exchange)[0] for key in ("order.deleted", "order.created"))

    outcome = make_transport(amqp_url).send([lost, kept])

    assert isinstance(outcome[0], Unroutable)
    assert (outcome[0].message_id, outcome[0].exchange, outcome[0].routing_key) == (
        lost.message_id,
        exchange,
        "order.deleted",
    )
    assert "312 NO_ROUTE" in str(outcome[0])
    assert outcome[1] is None
    assert broker.ids(queue) == [kept.message_id]


@pytest.mark.broker
def test_returns_are_matched_when_message_ids_repeat(
    amqp_url: str, broker: Broker, make_transport: Callable[..., AmqpTransport], unique_name: str
) -> None:
    exchange = broker.exchange(unique_name + ".x", "direct")
    broker.channel.queue_bind(broker.queue(unique_name), exchange, "routed")
    keys = ["routed", "nowhere", "nowhere", "routed", "nowhere", "routed"]
    batch = [WireMessage(exchange, key, b"", "same-id") for key in keys]

    outcome = make_transport(amqp_url).send(batch)

    assert [type(o).__name__ for o in outcome] == [
        "NoneType" if key == "routed" else "Unroutable" for key in keys
    ]


@pytest.mark.broker
def test_full_queue_with_reject_publish_nacks(
    amqp_url: str, broker: Broker, make_transport: Callable[..., AmqpTransport], unique_name: str
) -> None:
    queue = broker.queue(unique_name, **{"x-max-length": 1, "x-overflow": "reject-publish"})
    batch = messages(queue, 3)

    outcome = make_transport(amqp_url).send(batch)

    assert outcome[0] is None
    for message, error in zip(batch[1:], outcome[1:], strict=True):
        assert isinstance(error, PublishNacked)
        assert error.message_id == message.message_id
        assert "basic.nack" in str(error)
    assert broker.ids(queue) == [batch[0].message_id]


@pytest.mark.broker
def test_a_channel_that_nacked_is_replaced_and_publishing_goes_on_on_a_new_one(
    amqp_url: str, broker: Broker, make_transport: Callable[..., AmqpTransport], unique_name: str
) -> None:
    # On 3.10 a channel opened during a quorum queue's leader election may nack everything
    # for a minute, where a new one would not: a channel that nacked is not kept.
    full = broker.queue(unique_name, **{"x-max-length": 1, "x-overflow": "reject-publish"})
    other = broker.queue(unique_name + ".other")
    transport = make_transport(amqp_url)
    assert transport.send(messages(full, 1)) == [None]
    first_channel = transport._io_channel

    (nacked,) = transport.send(messages(full, 1))
    assert isinstance(nacked, PublishNacked)
    later = messages(other, 3)
    assert transport.send(later) == [None, None, None]

    assert transport._io_channel is not first_channel  # (pika may reuse its number)
    assert broker.ids(other) == [m.message_id for m in later]


@pytest.mark.broker
def test_missing_exchange_fails_everything_pending_then_channel_reopens(
    amqp_url: str, broker: Broker, make_transport: Callable[..., AmqpTransport], unique_name: str
) -> None:
    queue = broker.queue(unique_name)
    transport = make_transport(amqp_url)
    bad = messages("any", 1, exchange=unique_name + ".missing")[0]
    good = messages(queue, 1)[0]

    outcome = transport.send([bad, good])

    for error, message in zip(outcome, (bad, good), strict=True):
        assert isinstance(error, PublishConnectionError)
        assert "404 NOT_FOUND" in str(error) and unique_name + ".missing" in str(error)
        assert (error.message_id, error.exchange) == (message.message_id, message.exchange)
    # The one to the missing exchange certainly went nowhere, and the error names the fix.
    assert "does not exist on the broker" in str(outcome[0]) and "mqctl CONFIG apply" in str(
        outcome[0]
    )
    assert "may have the message" not in str(outcome[0])
    assert "may have the message" in str(outcome[1])
    after = messages(queue, 3)
    assert transport.send(after) == [None] * 3
    # ``good`` was behind the failure on the closed channel: its outcome is unknown.
    assert set(broker.ids(queue)) - {good.message_id} == {m.message_id for m in after}


@pytest.mark.broker
def test_connection_closed_by_broker_between_sends_reconnects(
    amqp_url: str,
    broker: Broker,
    make_transport: Callable[..., AmqpTransport],
    unique_name: str,
    rabbitmqctl: Callable[..., str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="mqwire.publisher")
    queue = broker.queue(unique_name)
    transport = make_transport(amqp_url)
    before, after = messages(queue, 20), messages(queue, 20)
    assert transport.send(before) == [None] * 20
    (pid,) = connection_pids(rabbitmqctl, transport._name)

    rabbitmqctl("close_connection", pid, "mqwire test: forced close")
    wait_until(lambda: bool(mqwire_lines(caplog, "lost")))

    assert transport.send(after) == [None] * 20
    assert "320 CONNECTION_FORCED" in mqwire_lines(caplog, "lost")[0]
    assert len(mqwire_lines(caplog, "reconnected to")) == 1
    (new_pid,) = connection_pids(rabbitmqctl, transport._name)
    assert new_pid != pid
    assert set(broker.ids(queue)) == {m.message_id for m in before + after}


@pytest.mark.broker
def test_forced_close_while_publishing_loses_nothing_reported_as_published(
    amqp_url: str,
    broker: Broker,
    make_transport: Callable[..., AmqpTransport],
    unique_name: str,
    rabbitmqctl: Callable[..., str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="mqwire.publisher")
    queue = broker.queue(unique_name)
    transport = make_transport(amqp_url)
    confirmed: list[str] = []
    failed: list[PublishError] = []
    stop = threading.Event()

    def publish() -> None:
        while not stop.is_set():
            batch = messages(queue, 20)
            for message, outcome in zip(batch, transport.send(batch), strict=True):
                if outcome is None:
                    confirmed.append(message.message_id)
                else:
                    failed.append(outcome)

    publisher = threading.Thread(target=publish)
    publisher.start()
    try:
        wait_until(lambda: len(confirmed) >= 100)
        (pid,) = connection_pids(rabbitmqctl, transport._name)
        rabbitmqctl("close_connection", pid, "mqwire test: forced close")
        wait_until(lambda: bool(mqwire_lines(caplog, "reconnected to")))
        reconnected_at = len(confirmed)
        wait_until(lambda: len(confirmed) >= reconnected_at + 100)
    finally:
        stop.set()
        publisher.join(60)

    assert all(isinstance(e, PublishConnectionError) for e in failed), failed
    in_queue = broker.ids(queue)
    assert set(confirmed) <= set(in_queue)
    assert len(in_queue) <= len(confirmed) + len(failed)  # only unknown outcomes may add


@contextlib.contextmanager
def confirms_held_back(rabbitmqctl: Callable[..., str], queue: str) -> Iterator[None]:
    """Suspend ``queue``'s Erlang process: the broker holds back confirms for messages routed
    to it, while other queues on the same channel confirm normally. Deterministic and local
    to one queue (a memory alarm would be node-wide)."""
    lookup = f'{{ok, Q}} = rabbit_amqqueue:lookup(rabbit_misc:r(<<"/">>, queue, <<"{queue}">>))'
    rabbitmqctl("eval", f"{lookup}, sys:suspend(amqqueue:get_pid(Q)).")
    try:
        yield
    finally:
        rabbitmqctl("eval", f"{lookup}, sys:resume(amqqueue:get_pid(Q)).")


@pytest.mark.broker
def test_confirm_held_back_times_out_per_message(
    amqp_url: str,
    broker: Broker,
    make_transport: Callable[..., AmqpTransport],
    unique_name: str,
    rabbitmqctl: Callable[..., str],
) -> None:
    stuck, free = broker.queue(unique_name + ".stuck"), broker.queue(unique_name + ".free")
    transport = make_transport(amqp_url, confirm_timeout=1.0)
    assert transport.send(messages(free, 1)) == [None]  # connected before the clock starts
    late, prompt = messages(stuck, 1)[0], messages(free, 1)[0]

    with confirms_held_back(rabbitmqctl, stuck):
        started = time.monotonic()
        outcome = transport.send([late, prompt])
        elapsed = time.monotonic() - started

    assert isinstance(outcome[0], PublishTimeout)
    assert outcome[0].message_id == late.message_id and "within 1 s" in str(outcome[0])
    assert outcome[1] is None
    assert 1.0 <= elapsed < 3.0
    # The late confirm arrives after the caller gave up; the transport carries on.
    again = messages(stuck, 1)[0]
    assert transport.send([again]) == [None]
    assert broker.ids(stuck) == [late.message_id, again.message_id]  # "unknown" really is


@pytest.mark.broker
def test_return_is_matched_past_an_older_unconfirmed_message_with_the_same_id(
    amqp_url: str,
    broker: Broker,
    make_transport: Callable[..., AmqpTransport],
    unique_name: str,
    rabbitmqctl: Callable[..., str],
) -> None:
    # The routed message's confirm is held back, so the return for the unroutable one (same
    # message_id) arrives while both are pending; it must not be pinned on the older one.
    exchange = broker.exchange(unique_name + ".x", "direct")
    stuck = broker.queue(unique_name)
    broker.channel.queue_bind(stuck, exchange, "routed")
    transport = make_transport(amqp_url, confirm_timeout=1.0)
    batch = [WireMessage(exchange, key, b"", "same-id") for key in ("routed", "nowhere")]

    with confirms_held_back(rabbitmqctl, stuck):
        outcome = transport.send(batch)

    assert isinstance(outcome[0], PublishTimeout)
    assert isinstance(outcome[1], Unroutable) and outcome[1].routing_key == "nowhere"


class HeldRelay:
    """A TCP relay to the broker that holds its first connection until released: a network
    slow enough for a send to time out before the connection opens."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.target = target
        self.go, self.stopped = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._serve, name="test-relay")
        self.thread.start()

    def release(self) -> None:
        self.go.set()

    def close(self) -> None:
        self.stopped.set()
        self.go.set()
        self.thread.join(10)
        self.listener.close()

    def _serve(self) -> None:
        self.go.wait()
        if self.stopped.is_set():
            return
        client, _ = self.listener.accept()  # the kernel held the handshake in the backlog
        with client, socket.create_connection(self.target) as upstream:
            peer = {client: upstream, upstream: client}
            while not self.stopped.is_set():
                for sock in select.select(list(peer), [], [], 0.05)[0]:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peer[sock].sendall(data)


@pytest.fixture
def held_relay(amqp_url: str) -> Iterator[tuple[HeldRelay, str]]:
    """The relay and an AMQP URL through it."""
    params = pika.URLParameters(amqp_url)
    relay = HeldRelay((params.host, params.port))
    creds = params.credentials
    vhost = quote(params.virtual_host, safe="")
    yield relay, f"amqp://{creds.username}:{creds.password}@127.0.0.1:{relay.port}/{vhost}"
    relay.close()


@pytest.mark.broker
def test_message_timed_out_before_the_connection_opened_is_not_sent_later(
    broker: Broker,
    make_transport: Callable[..., AmqpTransport],
    unique_name: str,
    held_relay: tuple[HeldRelay, str],
) -> None:
    relay, url = held_relay
    queue = broker.queue(unique_name)
    transport = make_transport(url, connect_timeout=30, confirm_timeout=1.0)
    given_up, sent = messages(queue, 1)[0], messages(queue, 1)[0]

    assert isinstance(transport.send([given_up])[0], PublishTimeout)
    relay.release()  # the connection opens now, with the timed-out message still queued
    assert transport.send([sent]) == [None]

    assert broker.ids(queue) == [sent.message_id]


@pytest.mark.broker
def test_close_is_idempotent_closes_the_connection_and_fails_later_sends(
    amqp_url: str,
    broker: Broker,
    make_transport: Callable[..., AmqpTransport],
    unique_name: str,
    rabbitmqctl: Callable[..., str],
) -> None:
    queue = broker.queue(unique_name)
    transport = make_transport(amqp_url)
    assert transport.send(messages(queue, 1)) == [None]
    assert len(io_threads(transport._name)) == 1

    transport.close()
    transport.close()

    assert io_threads(transport._name) == []
    wait_until(lambda: connection_pids(rabbitmqctl, transport._name) == [])
    late = messages(queue, 2)
    outcome = transport.send(late)
    for error, message in zip(outcome, late, strict=True):
        assert isinstance(error, PublishConnectionError)
        assert "publisher is closed" in str(error) and error.message_id == message.message_id
    assert io_threads(transport._name) == []
    assert len(broker.ids(queue)) == 1


@pytest.mark.broker
def test_close_during_a_send_lets_its_confirms_arrive(
    amqp_url: str, broker: Broker, make_transport: Callable[..., AmqpTransport], unique_name: str
) -> None:
    queue = broker.queue(unique_name)
    transport = make_transport(amqp_url)
    batch = messages(queue, 20000)
    outcome: Outcomes = []
    sender = threading.Thread(target=lambda: outcome.extend(transport.send(batch)))

    sender.start()
    # Once the queue fills, the whole batch has been handed to pika (one loop callback).
    wait_until(lambda: broker.channel.queue_declare(queue, passive=True).method.message_count > 0)
    transport.close()
    sender.join(30)

    assert not sender.is_alive()
    assert outcome == [None] * 20000
    assert len(broker.ids(queue)) == 20000


@pytest.mark.broker
def test_logs_hold_neither_bodies_nor_passwords(
    amqp_url: str,
    broker: Broker,
    make_transport: Callable[..., AmqpTransport],
    unique_name: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # pika's own debug lines too
    queue = broker.queue(unique_name)
    exchange = broker.exchange(unique_name + ".x")
    body = b"BODY-" + uuid.uuid4().hex.encode()
    batch = [
        WireMessage("", queue, body, "routed"),
        WireMessage(exchange, "nowhere", body, "returned"),
    ]
    transport = make_transport(amqp_url)
    assert [type(o) for o in transport.send(batch)] == [type(None), Unroutable]
    transport.send([WireMessage(unique_name + ".missing", "k", body, "404")])

    assert body.decode() not in caplog.text
    password = pika.URLParameters(amqp_url).credentials.password
    assert f":{password}@" not in caplog.text


# -- no broker needed -----------------------------------------------------------------------


def test_unreachable_broker_fails_fast_and_never_shows_the_password(
    make_transport: Callable[..., AmqpTransport], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    port = free_port()
    transport = make_transport(f"amqp://guest:s3cr3t-pw@127.0.0.1:{port}/%2F")
    message = messages("q", 1)[0]

    for _ in range(2):  # each send tries to connect once
        started = time.monotonic()
        (error,) = transport.send([message])
        assert time.monotonic() - started < 5
        assert isinstance(error, PublishConnectionError)
        assert f"amqp://guest:***@127.0.0.1:{port}/%2F" in str(error)
        assert "Connection refused" in str(error) and error.message_id == message.message_id
        assert "s3cr3t-pw" not in str(error)
    assert len(mqwire_lines(caplog, "could not connect")) == 2
    assert "s3cr3t-pw" not in caplog.text


def test_io_thread_is_a_daemon_named_after_the_transport(
    make_transport: Callable[..., AmqpTransport], unique_name: str
) -> None:
    transport = make_transport(f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F", name=unique_name)
    assert io_threads(unique_name) == []  # nothing starts before the first send

    transport.send(messages("q", 1))

    (thread,) = io_threads(unique_name)
    assert thread.daemon
    transport.close()
    assert not thread.is_alive()


@pytest.mark.broker
def test_a_dead_io_thread_leaves_no_socket_open_and_the_next_send_goes_through(
    amqp_url: str, broker: Broker, make_transport: Callable[..., AmqpTransport], unique_name: str
) -> None:
    queue = broker.queue(unique_name)
    transport = make_transport(amqp_url)
    first, second = messages(queue, 2)
    assert transport.send([first]) == [None]
    old_loop, old_thread = transport._loop, transport._thread
    old_socket = transport._io_connection._transport._sock
    assert old_thread is not None

    def fail() -> None:
        raise RuntimeError("a bug in the I/O thread")

    old_loop.add_callback_threadsafe(fail)  # ends loop.start() with the connection open
    old_thread.join(10)
    assert not old_thread.is_alive()

    assert transport.send([second]) == [None]  # a new thread and loop
    assert transport._thread is not old_thread
    assert old_socket.fileno() == -1, "the dead thread's connection socket was left open"
    assert old_loop._poller._r_interrupt is None, "the dead thread's loop was left open"
    assert broker.ids(queue) == [first.message_id, second.message_id]


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A port that accepts TCP but never answers the AMQP handshake."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield s.getsockname()[1]


def test_handshake_that_never_completes_hits_connect_timeout(
    make_transport: Callable[..., AmqpTransport], silent_listener: int
) -> None:
    url = f"amqp://guest:guest@127.0.0.1:{silent_listener}/%2F"
    transport = make_transport(url, connect_timeout=0.5, confirm_timeout=10)

    started = time.monotonic()
    (error,) = transport.send(messages("q", 1))

    assert isinstance(error, PublishConnectionError) and "could not connect" in str(error)
    assert time.monotonic() - started < 5


def test_send_never_outlasts_confirm_timeout_and_close_aborts_a_connect(
    make_transport: Callable[..., AmqpTransport], silent_listener: int
) -> None:
    url = f"amqp://guest:guest@127.0.0.1:{silent_listener}/%2F"
    transport = make_transport(url, connect_timeout=30, confirm_timeout=0.5)

    started = time.monotonic()
    (error,) = transport.send(messages("q", 1))
    assert isinstance(error, PublishTimeout)
    assert 0.5 <= time.monotonic() - started < 3

    started = time.monotonic()
    transport.close()  # the connection is still opening
    assert time.monotonic() - started < 3
    assert io_threads(transport._name) == []


def test_unframeable_messages_raise_before_anything_is_sent(
    make_transport: Callable[..., AmqpTransport],
) -> None:
    transport = make_transport("amqp://guest:guest@127.0.0.1:1/%2F")
    bad: Sequence[WireMessage] = [
        WireMessage("", "k" * 256, b"", "long-key"),
        WireMessage("", "q", "text", "str-body"),  # type: ignore[arg-type]
        WireMessage("", "q", b"", "bad-header", properties={"headers": {"x": object()}}),
        WireMessage("", "q", b"", "bad-prop", properties={"colour": "red"}),
        WireMessage("", "q", b"", "two-ids", properties={"message_id": "other"}),
    ]
    for message in bad:
        with pytest.raises(EncodeError, match=message.message_id):
            transport.send([messages("q", 1)[0], message])
    assert io_threads(transport._name) == []  # nothing was handed to the I/O thread


def test_multiple_acks_and_nacks_settle_every_covered_tag() -> None:
    # Drives the confirm bookkeeping directly: the broker rarely nacks with multiple=True.
    transport = AmqpTransport("amqp://guest:guest@127.0.0.1:1/%2F", name="unit")
    published: list[str] = []

    class FakeChannel:
        def basic_publish(self, exchange: str, key: str, body: bytes, props: Any, **_: Any) -> None:
            published.append(props.message_id)

    batch = messages("q", 6)
    entries = [transport._entry(m) for m in batch]
    transport._io_channel, transport._io_ready = FakeChannel(), True
    transport._io_outbox.extend(entries)
    transport._io_pump()
    assert published == [m.message_id for m in batch]

    def confirm(method: Any) -> None:
        transport._io_on_confirm(pika.frame.Method(1, method))

    confirm(spec.Basic.Ack(delivery_tag=2, multiple=True))
    confirm(spec.Basic.Nack(delivery_tag=4, multiple=False))
    confirm(spec.Basic.Nack(delivery_tag=5, multiple=True))
    confirm(spec.Basic.Ack(delivery_tag=6))
    outcome = [e.future.result(timeout=0) for e in entries]
    assert [type(o).__name__ for o in outcome] == [
        "NoneType",
        "NoneType",
        "PublishNacked",
        "PublishNacked",
        "PublishNacked",
        "NoneType",
    ]
    assert not transport._io_pending
    transport.close()


@pytest.mark.parametrize(
    "url",
    [
        "amqp://u:s3cr3t-pw@h:notaport/%2F",
        "amqp://u:s3cr3t-pw@h/%2F?heartbeat=often",
        "amqp://u:s3cr3t-pw@h/%2F?ssl_options=%7Bs3cr3t-pw",
    ],
)
def test_bad_url_is_a_configuration_error_without_the_password(url: str) -> None:
    with pytest.raises(ConfigurationError, match=r"invalid AMQP URL amqp://u:\*\*\*@h") as caught:
        AmqpTransport(url)
    assert "s3cr3t-pw" not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
