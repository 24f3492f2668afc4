"""``await publisher.apublish()`` and ``async with publisher.abatch():``, on both transports.

On RabbitMQ the confirm is awaited on the running loop: these check that the loop runs other
coroutines while a confirm is outstanding, that what is reported confirmed is in its queue,
and that the errors are ``publish()``'s. On the local transport the tasks run as they do for
``publish()``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import contract_app
import pika  # type: ignore[import-untyped]
import pytest
import topology_setup as wiring

from mqwire.runtime import (
    BatchPublishError,
    MessageSchemaError,
    Registry,
    Unroutable,
    load,
)
from mqwire.runtime.publish.base import BATCH_CHUNK

TOPOLOGY = """\
version: 1
connections:
  main: {url: "${AMQP_URL}"}
publisher_consumers:
  web:
    prefix: web.mq
    transport: amqp
    connection: main
    exchange: mqwire.apublish
    routes:
      "work.#": work
queues:
  work: {consumer: web}
  checked: {consumer: web, schema: checked.json}
tasks:
  work: {task: contract_app:record, queue: work}
"""

CHECKED = '{"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}}'


@pytest.fixture(scope="module")
def ini(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ini = wiring.compile_into(tmp_path_factory.mktemp("apublish"), TOPOLOGY)
    (ini.parent / "checked.json").write_text(CHECKED, encoding="utf-8")
    return ini


@pytest.fixture
def registry(ini: Path, vhost_url: str) -> Iterator[Registry]:
    registry = load(ini, environ={"AMQP_URL": vhost_url})
    wiring.declare(vhost_url, registry)
    wiring.purge(vhost_url, registry)
    yield registry
    registry.close()


def queued_ids(url: str, queue: str) -> list[str]:
    """The message ids waiting in ``queue``, in queue order (taken off it)."""
    ids = []
    with pika.BlockingConnection(pika.URLParameters(url)) as connection:
        channel = connection.channel()
        while True:
            method, properties, _ = channel.basic_get(queue, auto_ack=True)
            if method is None:
                return ids
            ids.append(properties.message_id)


def test_apublish_returns_once_confirmed_and_the_loop_runs_meanwhile(
    registry: Registry, vhost_url: str
) -> None:
    publisher = registry.publisher("web")
    events: list[str] = []

    async def other_work() -> None:
        events.append("other coroutine ran")

    async def main() -> str:
        other = asyncio.create_task(other_work())
        message_id = await publisher.apublish(body={"n": 1}, routing_key="work.a")
        events.append("confirmed")
        await other
        return message_id

    message_id = asyncio.run(main())
    # A publish that blocked the loop until its confirm would let the other coroutine run
    # only after it returned.
    assert events == ["other coroutine ran", "confirmed"]
    assert queued_ids(vhost_url, "work") == [message_id]


def test_concurrent_apublishes_share_the_connection_and_all_arrive(
    registry: Registry, vhost_url: str
) -> None:
    publisher = registry.publisher("web")

    async def main() -> list[str]:
        calls = [publisher.apublish(body={"n": n}, routing_key="work.b") for n in range(200)]
        return list(await asyncio.gather(*calls))

    ids = asyncio.run(main())
    assert len(set(ids)) == 200
    assert sorted(queued_ids(vhost_url, "work")) == sorted(ids)
    assert publisher.stats.outcomes["confirmed"] == 200


def test_apublish_raises_what_publish_raises(registry: Registry, vhost_url: str) -> None:
    publisher = registry.publisher("web")
    with pytest.raises(Unroutable, match="NO_ROUTE"):
        asyncio.run(publisher.apublish(body={"n": 1}, routing_key="nowhere"))
    with pytest.raises(MessageSchemaError):  # refused before sending
        asyncio.run(publisher.apublish(body={"id": "x"}, routing_key="checked", exchange=""))
    assert wiring.counts(vhost_url, ["work", "checked"]) == {"work": 0, "checked": 0}


def test_abatch_sends_its_messages_when_the_block_ends_and_names_the_failed_one(
    registry: Registry, vhost_url: str
) -> None:
    publisher = registry.publisher("web")
    n = BATCH_CHUNK * 2 + 10  # more chunks than are kept in flight at once

    async def main() -> None:
        async with publisher.abatch() as batch:
            for i in range(n):
                key = "nowhere" if i == 5 else "work.c"
                await publisher.apublish(body={"n": i}, routing_key=key)
            assert len(batch.message_ids) == n
            assert wiring.counts(vhost_url, ["work"]) == {"work": 0}  # nothing sent yet

    with pytest.raises(BatchPublishError) as raised:
        asyncio.run(main())
    assert [index for index, _ in raised.value.failures] == [5]
    assert isinstance(raised.value.failures[0][1], Unroutable)
    assert raised.value.published == n - 1
    assert len(queued_ids(vhost_url, "work")) == n - 1


def test_abatches_of_two_coroutines_keep_their_own_messages(registry: Registry) -> None:
    publisher = registry.publisher("web")

    async def batch_of(n: int) -> list[str]:
        async with publisher.abatch() as batch:
            for i in range(n):
                await publisher.apublish(body={"n": i}, routing_key="work.d")
                await asyncio.sleep(0)  # let the other coroutine publish in between
        return batch.message_ids

    async def main() -> tuple[list[str], list[str]]:
        first, second = await asyncio.gather(batch_of(3), batch_of(4))
        return first, second

    first, second = asyncio.run(main())
    assert (len(first), len(second)) == (3, 4)
    assert not set(first) & set(second)


def test_abatches_do_not_nest(registry: Registry) -> None:
    publisher = registry.publisher("web")

    async def main() -> None:
        async with publisher.abatch(), publisher.abatch():
            pass

    with pytest.raises(RuntimeError, match="do not nest"):
        asyncio.run(main())


def test_on_the_local_transport_apublish_and_abatch_run_the_tasks(
    tmp_path: Path, mqwire_local: Callable[..., Registry]
) -> None:
    ini = wiring.compile_into(tmp_path, TOPOLOGY, "local")
    (tmp_path / "checked.json").write_text(CHECKED, encoding="utf-8")
    publisher = mqwire_local(ini).publisher("web")
    contract_app.RECORDED.clear()

    async def main() -> list[str]:
        first = await publisher.apublish(body={"n": 0}, routing_key="work.e")
        async with publisher.abatch() as batch:
            await publisher.apublish(body={"n": 1}, routing_key="work.e")
            publisher.publish(body={"n": 2}, routing_key="work.e")  # joins the batch too
            assert len(contract_app.RECORDED) == 1  # nothing of the batch ran yet
        return [first, *batch.message_ids]

    try:
        ids = asyncio.run(main())
        assert [r.message_id for _, r in contract_app.RECORDED] == ids
        assert [r.params["n"] for _, r in contract_app.RECORDED] == [0, 1, 2]
        with pytest.raises(Unroutable):
            asyncio.run(publisher.apublish(body={}, routing_key="nowhere"))
    finally:
        contract_app.RECORDED.clear()
