"""AmqpTransport while the broker blocks publishing (a memory alarm on a private node).

The broker tells a connection it is blocked only once it publishes after the alarm began: that
first message is on the wire and waits for its confirm (an unknown outcome if the caller gives
up). Every later one fails at once with ``PublishBlocked``, unsent, or waits unsent for as long
as its caller allows and goes out when the alarm clears. Runs with whichever
``MQWIRE_FASTPATH`` the suite runs with (``make test`` runs both).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pika  # type: ignore[import-untyped]
import pytest
from private_broker import PrivateNode

from mqwire.runtime.amqp.entries import PENDING
from mqwire.runtime.amqp.transport import AmqpTransport
from mqwire.runtime.errors import PublishBlocked, PublishError, PublishTimeout
from mqwire.runtime.wire import WireMessage
from mqwire.testing import wait_until

pytestmark = pytest.mark.private_broker

QUEUE = "alarmed"


def message() -> WireMessage:
    return WireMessage("", QUEUE, b"{}", uuid.uuid4().hex)


def queued_ids(url: str) -> list[str]:
    """Every message id in the queue, in order (taken)."""
    ids = []
    with pika.BlockingConnection(pika.URLParameters(url)) as connection:
        channel = connection.channel()
        while True:
            method, properties, _ = channel.basic_get(QUEUE, auto_ack=True)
            if method is None:
                return ids
            ids.append(properties.message_id)


@pytest.fixture
def transport(private_vhost_url: str) -> Iterator[AmqpTransport]:
    with pika.BlockingConnection(pika.URLParameters(private_vhost_url)) as connection:
        connection.channel().queue_declare(QUEUE)
    made = AmqpTransport(private_vhost_url, name="alarmed", confirm_timeout=3.0)
    yield made
    made.close()


def test_a_blocked_connection_fails_fast_or_waits_as_long_as_the_caller_allows(
    private_node: PrivateNode, private_vhost_url: str, transport: AmqpTransport
) -> None:
    before = message()
    assert transport.state.state == "idle"
    assert transport.send([before]) == [None] and transport.blocked is None
    assert transport.state.state == "connected"
    first, fast, briefly, patient = message(), message(), message(), message()
    with private_node.memory_alarm():
        (late,) = transport.send([first])  # on the wire when the broker blocked the connection
        assert isinstance(late, PublishTimeout) and late.outcome_unknown, late
        wait_until(lambda: transport.blocked is not None)
        assert transport.state.state == "blocked", "what /metrics shows meanwhile"
        began = time.monotonic()
        (refused,) = transport.send([fast])
        failed_after = time.monotonic() - began
        assert isinstance(refused, PublishBlocked) and not refused.outcome_unknown, refused
        assert "the broker blocks publishing (low on memory)" in str(refused)
        began = time.monotonic()
        (given_up,) = transport.send([briefly], blocked_timeout=1.0)
        gave_up_after = time.monotonic() - began
        assert isinstance(given_up, PublishBlocked) and "for 1 s" in str(given_up)
        waiting = transport.submit([patient], blocked_timeout=120.0)
        assert transport.wait(waiting, 0.2) == [PENDING], "held, unsent, while blocked"
        cleared = time.monotonic()
    confirmed = transport.wait(waiting, 30.0)
    print(
        f"\nblocked: failed fast in {failed_after:.3f} s, gave up after {gave_up_after:.2f} s, "
        f"a patient publish confirmed {time.monotonic() - cleared:.2f} s after the clear began"
    )
    assert confirmed == [None] and transport.blocked is None
    assert transport.state.state == "connected" and transport.state.losses == 0
    assert failed_after < 0.5 and 1.0 <= gave_up_after < 2.5
    assert queued_ids(private_vhost_url) == [
        before.message_id,
        first.message_id,  # "unknown" really was: the broker took it once the alarm cleared
        patient.message_id,
    ], "the refused messages were never sent"


def test_a_publisher_thread_waiting_for_the_block_to_clear_is_confirmed_after_it(
    private_node: PrivateNode, private_vhost_url: str, transport: AmqpTransport
) -> None:
    assert transport.send([message()]) == [None]
    outcomes: list[PublishError | None] = []
    with private_node.memory_alarm():
        transport.submit([message()])  # the broker blocks the connection on this one
        wait_until(lambda: transport.blocked is not None)
        waiting = message()
        thread = threading.Thread(
            target=lambda: outcomes.extend(transport.send([waiting], blocked_timeout=120.0))
        )
        thread.start()
        assert outcomes == [], "still waiting while the alarm lasts"
    thread.join(30)
    assert outcomes == [None]
    assert queued_ids(private_vhost_url)[-1] == waiting.message_id
