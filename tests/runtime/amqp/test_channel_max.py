"""Start-up declarations stay within the connection's negotiated ``channel_max``.

They run over up to ``DECLARING_CHANNELS`` channels at once, closed without waiting while the
worker opens one consuming channel per queue: on a broker whose ``channel_max`` is below both
together, pika refuses the extra channel (``NoFreeChannels``) and the worker never starts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pika  # type: ignore[import-untyped]
import pytest
import topology_setup as wiring
from mserve_harness import Mserve
from private_broker import PrivateNode

from mqwire.runtime.amqp.declaring import DECLARING_CHANNELS, Chain, lanes
from mqwire.runtime.amqp.session import AmqpSession
from mqwire.runtime.dispatch import Delivery
from mqwire.topology.declarations import Declarations, QueueDeclaration

CALLS: list[Chain] = [(("declaring", "queue_declare", {}),)] * (DECLARING_CHANNELS + 4)
CHANNEL_MAX = 4
QUEUES = tuple(QueueDeclaration(f"q{i}") for i in range(DECLARING_CHANNELS * 2))
#: Three consumed queues and their nine failure queues: more declarations than channels.
TOPOLOGY = """\
version: 1
connections:
  main: {url: "${AMQP_URL}"}
publisher_consumers:
  work: {prefix: work.mq, transport: amqp, connection: main}
queues:
  a: {consumer: work, retry: {delays: [1, 2]}}
  b: {consumer: work, retry: {delays: [1, 2]}}
  c: {consumer: work, retry: {delays: [1, 2]}}
tasks:
  record: {task: "mserve_app:record", queue: a}
"""


@pytest.mark.parametrize(
    ("channel_max", "keep_free", "expected"),
    [
        (0, 3, DECLARING_CHANNELS),  # 0: the broker set no limit
        (2047, 3, DECLARING_CHANNELS),
        (CHANNEL_MAX, 2, 2),
        (CHANNEL_MAX, 0, CHANNEL_MAX),
        (CHANNEL_MAX, CHANNEL_MAX, 1),  # at least one: the consuming ones then fail, as before
        (1, 5, 1),
    ],
)
def test_declaring_channels_leave_room_for_the_consuming_ones(
    channel_max: int, keep_free: int, expected: int
) -> None:
    assert len(lanes(CALLS, CALLS, channel_max, keep_free)) == expected


def test_no_more_declaring_channels_than_calls() -> None:
    assert len(lanes(CALLS[:3], CALLS[:1], 2047, 0)) == 3


@pytest.mark.private_broker
def test_a_worker_starts_on_a_broker_with_a_low_channel_max(
    make_private_node: Callable[..., PrivateNode],
) -> None:
    node = make_private_node("channel-max", conf=[f"channel_max = {CHANNEL_MAX}"])
    consumed = [q.name for q in QUEUES[:2]]
    losses: list[str] = []

    def on_message(channel: object, delivery: Delivery) -> None:
        raise AssertionError(f"nothing was published: {delivery}")

    async def main() -> int:
        session = AmqpSession(pika.URLParameters(node.url()), "private", losses.append)
        await session.connect()
        try:
            negotiated = int(session.connection.params.channel_max)
            await session.declare(Declarations(queues=QUEUES), keep_free=len(consumed))
            for queue in consumed:  # as Consumers.open: while the declaring channels close
                await session.consume(queue, 1, on_message, lambda: None, lambda *c: None)
            return negotiated
        finally:
            await session.close()

    assert asyncio.run(main()) == CHANNEL_MAX
    assert losses == []
    listed = node.ctl("list_queues", "name", "--no-table-headers", "--quiet").split()
    assert sorted(listed) == sorted(q.name for q in QUEUES)


@pytest.mark.private_broker
def test_mserve_starts_on_a_broker_with_a_low_channel_max(
    make_private_node: Callable[..., PrivateNode],
    mserve: Callable[..., Mserve],
    tmp_path: Path,
) -> None:
    node = make_private_node("channel-max-mserve", conf=[f"channel_max = {CHANNEL_MAX}"])
    url = node.add_vhost("channels")
    ini = wiring.compile_into(tmp_path, TOPOLOGY)

    worker = mserve(ini, url)  # waits until it consumes a, b and c: 3 of the 4 channels

    assert worker.stop() == 0
    assert "NoFreeChannels" not in worker.output()


@pytest.mark.private_broker
def test_mserve_exits_2_when_the_broker_allows_fewer_channels_than_its_queues_need(
    make_private_node: Callable[..., PrivateNode],
    mserve: Callable[..., Mserve],
    tmp_path: Path,
) -> None:
    """Four queues need five channels at start-up (one declaring): retrying cannot help."""
    node = make_private_node("channel-max-short", conf=[f"channel_max = {CHANNEL_MAX}"])
    url = node.add_vhost("channels")
    four = TOPOLOGY.replace("tasks:", "  d: {consumer: work}\ntasks:")
    ini = wiring.compile_into(tmp_path, four)

    worker = mserve(ini, url, wait=False)

    assert worker.wait(timeout=60) == 2
    assert "channel_max" in worker.output() and "fewer queues" in worker.output()
