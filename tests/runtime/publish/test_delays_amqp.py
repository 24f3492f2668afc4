"""Delayed publishes over the real broker: the ladder of TTL queues, as mserve declares it."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pika  # type: ignore[import-untyped]
import pytest
import topology_setup as wiring

from mqwire.runtime import EncodeError, Registry, Unroutable
from mqwire.runtime.dispatch import delayed_destination
from mqwire.testing import wait_until
from mqwire.topology import delays

pytestmark = pytest.mark.broker

TOPOLOGY = """\
version: 1
connections:
  main: {url: "${AMQP_URL}"}
publisher_consumers:
  shop:
    prefix: shop.mq
    transport: amqp
    connection: main
    exchange: shop.events
    routes: {"order.#": orders}
queues:
  orders: {consumer: shop}
delays: true
"""


@pytest.fixture(scope="module")
def ini(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return wiring.compile_into(tmp_path_factory.mktemp("delays"), TOPOLOGY)


@pytest.fixture
def registry(ini: Path, vhost_url: str) -> Iterator[Registry]:
    with wiring.declared(ini, vhost_url) as registry:
        yield registry


def test_delays_land_in_order_never_early_and_a_long_one_waits_on_its_level(
    registry: Registry, vhost_url: str
) -> None:
    """0.5 s, 3 s and 1 min arrive in that order, none before its delay and each within about
    1 s after its delay rounded up; 3 days wait in level 17 (2**17 s), not in the queue."""
    publisher = registry.publisher("shop")
    wanted: dict[str, float] = {"3d": 3 * 86400, "1min": 60, "3s": 3, "0.5s": 0.5, "now": 0}
    sent: dict[str, float] = {}
    for label in wanted:  # longest first: the shorter ones must overtake it
        sent[label] = time.monotonic()
        delay = timedelta(days=3) if label == "3d" else wanted[label]
        publisher.publish({"label": label}, "order.created", delay=delay)
    assert wiring.counts(vhost_url, [delays.level_queue(17), delays.level_queue(5)]) == {
        delays.level_queue(17): 1,  # 259200 s = 2**17 + ...: waits 36 h there first
        delays.level_queue(5): 1,  # 60 s = 32 + 16 + 8 + 4
    }

    arrived: list[tuple[str, float, Any, Any]] = []
    with pika.BlockingConnection(pika.URLParameters(vhost_url)) as connection:
        channel = connection.channel()

        def received(_ch: Any, method: Any, properties: Any, body: bytes) -> None:
            label = body.decode().split('"')[3]
            arrived.append((label, time.monotonic(), method, properties))

        channel.basic_consume("orders", received, auto_ack=True)

        def four_arrived() -> bool:
            connection.process_data_events(time_limit=0.02)  # waits on the broker's pushes
            return len(arrived) >= 4

        wait_until(four_arrived, timeout=90, what="the four shorter delays", detail=str)
        connection.process_data_events(time_limit=0.2)  # anything early would show now

    assert [label for label, *_ in arrived] == ["now", "0.5s", "3s", "1min"]
    waits = {label: at - sent[label] for label, at, *_ in arrived}
    print("waited: " + ", ".join(f"{label} {seconds:.3f} s" for label, seconds in waits.items()))
    for label, at, method, _ in arrived:
        waited = at - sent[label]
        assert waited >= wanted[label], f"{label} arrived early, after {waited:.3f} s"
        assert waited <= math.ceil(wanted[label]) + 1.5, f"{label} took {waited:.3f} s"
        if label != "now":
            assert method.exchange.startswith(delays.PREFIX)  # the task is told where it went:
            where = delayed_destination(method.exchange, method.routing_key)
            assert where == ("shop.events", "order.created")
    assert wiring.counts(vhost_url, [delays.level_queue(17), "orders"]) == {
        delays.level_queue(17): 1,
        "orders": 0,
    }


def test_a_batch_delays_each_message_by_its_own_delay(registry: Registry, vhost_url: str) -> None:
    publisher = registry.publisher("shop")
    with publisher.batch():
        publisher.publish({"n": 1}, "order.created", delay=timedelta(hours=1))  # 2**11 + ...
        publisher.publish({"n": 2}, "order.created", delay=0)
        publisher.publish({"n": 3}, "order.created", delay=2)
    assert wiring.counts(vhost_url, ["orders", delays.level_queue(11), delays.level_queue(1)]) == {
        "orders": 1,
        delays.level_queue(11): 1,
        delays.level_queue(1): 1,
    }


def test_bad_delays_and_unroutable_delayed_messages_are_refused_before_sending(
    registry: Registry, vhost_url: str
) -> None:
    publisher = registry.publisher("shop")
    with pytest.raises(EncodeError, match="0 or more seconds"):
        publisher.publish({}, "order.created", delay=-1)
    with pytest.raises(EncodeError, match="over the longest one"):
        publisher.publish({}, "order.created", delay=timedelta(days=30))
    with pytest.raises(EncodeError, match="too long for a delayed publish"):
        publisher.publish({}, "order." + "x" * 240, delay=5)
    # the broker's mandatory check would see only the ladder: refused here instead
    with pytest.raises(Unroutable, match="reaches only the queues the topology binds"):
        publisher.publish({}, "invoice.created", delay=5)
    with pytest.raises(Unroutable):
        publisher.publish({}, "order.created", exchange="elsewhere", delay=5)
    levels = [delays.level_queue(k) for k in range(delays.LEVELS)]
    assert set(wiring.counts(vhost_url, levels).values()) == {0}


def test_apublish_and_abatch_take_a_delay_too(registry: Registry, vhost_url: str) -> None:
    publisher = registry.publisher("shop")

    async def publish() -> None:
        await publisher.apublish({"n": 1}, "order.created", delay=timedelta(minutes=5))
        async with publisher.abatch():
            await publisher.apublish({"n": 2}, "order.created", delay=4)

    asyncio.run(publish())
    levels = [delays.level_queue(8), delays.level_queue(2)]  # 300 = 2**8 + ..; 4 = 2**2
    assert wiring.counts(vhost_url, levels) == dict.fromkeys(levels, 1)
