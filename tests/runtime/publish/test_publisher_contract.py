"""One contract, two publishers: what a task receives is the same in-process and over RabbitMQ.

Each test runs twice: on the local transport (tasks run inside ``publish()``) and on the real
broker (the message crosses RabbitMQ, then ``wiring.deliver`` runs it as the worker would).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import contract_app
import pytest
import topology_setup as wiring

from mqwire.runtime import (
    BatchPublishError,
    MessageSchemaError,
    Publisher,
    Registry,
    Unroutable,
    dispatch_task,
    load,
)
from mqwire.runtime.dispatch import Action

TOPOLOGY = """\
version: 1
connections:
  main: {url: "${AMQP_URL}"}
publisher_consumers:
  jobs:
    prefix: contract.jobs.mq
    transport: amqp
    connection: main
    exchange: mqwire.contract
    routes:
      "orders.*": orders
      "orders.#": audit
      "chain.start": chain
queues:
  orders: {consumer: jobs, schema: order.json}
  audit: {consumer: jobs}
  plain: {consumer: jobs}
  chain: {consumer: jobs}
tasks:
  take_order:
    task: contract_app:record
    root_factory: contract_app:OrderResource
    queue: orders
  audit: {task: contract_app:record, queue: audit}
  plain: {task: contract_app:record, queue: plain}
  chain: {task: contract_app:start_chain, queue: chain}
"""

ORDER_SCHEMA = {
    "type": "object",
    "required": ["id"],
    "properties": {"id": {"type": "integer"}},
}

QUEUES = ["orders", "audit", "plain", "chain"]
JSON = {"content_type": "application/json"}


@dataclass
class Harness:
    """A registry on one transport, and a way to run what was published."""

    transport: str
    registry: Registry
    url: str = ""

    @property
    def publisher(self) -> Publisher:
        return self.registry.publisher("jobs")

    def run(self) -> list[tuple[str, Any]]:
        """What the tasks received, as (task name, request), once everything has run."""
        if self.transport == "amqp":
            outcomes = wiring.deliver(self.url, self.registry, QUEUES)
            assert all(o.action is Action.ACK for _, o in outcomes), outcomes
        return list(contract_app.RECORDED)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("contract")
    inis = {t: wiring.compile_into(folder / t, TOPOLOGY, t) for t in ("local", "amqp")}
    for ini in inis.values():  # schema: paths are relative to the topology file
        (ini.parent / "order.json").write_text(json.dumps(ORDER_SCHEMA), encoding="utf-8")
    return inis


@pytest.fixture(params=["local", "amqp"])
def harness(request: pytest.FixtureRequest, compiled: dict[str, Path]) -> Iterator[Harness]:
    transport: str = request.param
    url = ""
    if transport == "amqp":
        url = request.getfixturevalue("vhost_url")
        registry = load(compiled[transport], environ={"AMQP_URL": url})
        wiring.declare(url, registry)
        wiring.purge(url, registry)
    else:  # the plugin's fixture, as applications' tests use it
        registry = request.getfixturevalue("mqwire_local")(compiled[transport])
    contract_app.RECORDED.clear()
    try:
        yield Harness(transport, registry, url)
    finally:
        registry.close()
        contract_app.RECORDED.clear()


def test_publish_as_the_old_api_did_reaches_the_task_with_the_request_filled(
    harness: Harness,
) -> None:
    body = {"id": 7, "note": "Grüße"}
    message_id = harness.publisher.publish(
        body=json.dumps(body), routing_key="orders.created", properties=dict(JSON)
    )

    by_task = dict(harness.run())
    request = by_task["take_order"]
    assert request.params == body and request.json == body
    assert request.body == json.dumps(body).encode()
    assert request.content_type == "application/json"
    assert request.routing_key == "orders.created"
    assert request.exchange == "mqwire.contract"
    assert request.queue == "orders" and request.task_name == "take_order"
    assert request.message_id == message_id
    assert request.attempt == 1
    assert request.properties["delivery_mode"] == 2  # persistent by default
    assert request.registry is harness.registry


def test_a_key_matched_by_two_patterns_reaches_each_queue_once(harness: Harness) -> None:
    harness.publisher.publish(body={"id": 1}, routing_key="orders.created")
    harness.publisher.publish(body={"id": 2}, routing_key="orders.eu.created")

    ran = [(task, request.params["id"]) for task, request in harness.run()]
    assert sorted(ran) == [("audit", 1), ("audit", 2), ("take_order", 1)]


def test_dict_bodies_are_json_with_the_content_type_and_properties_kept(harness: Harness) -> None:
    harness.publisher.publish(
        body=[1, "two", None],
        routing_key="plain",
        exchange="",
        properties={"headers": {"tenant": "t1"}, "correlation_id": "c-1", "priority": 3},
    )

    ((_, request),) = harness.run()
    assert request.json == [1, "two", None]
    assert request.params == {}
    assert request.content_type == "application/json"
    assert request.headers["tenant"] == "t1"
    assert request.properties["correlation_id"] == "c-1"
    assert request.properties["priority"] == 3


def test_form_encoded_bodies_are_parsed_into_params(harness: Harness) -> None:
    harness.publisher.publish(
        body="id=3&name=a+b",
        routing_key="plain",
        exchange="",
        properties={"content_type": "application/x-www-form-urlencoded"},
    )

    ((_, request),) = harness.run()
    assert request.params == {"id": "3", "name": "a b"}


def test_a_queue_is_reached_by_its_own_name_on_the_exchange(harness: Harness) -> None:
    harness.publisher.publish(body={"n": 1}, routing_key="plain")

    assert [task for task, _ in harness.run()] == ["plain"]


def test_a_key_no_queue_is_bound_to_raises_unroutable_and_delivers_nothing(
    harness: Harness,
) -> None:
    with pytest.raises(Unroutable, match="NO_ROUTE") as raised:
        harness.publisher.publish(body={"id": 1}, routing_key="invoices.created")

    assert raised.value.routing_key == "invoices.created"
    assert harness.run() == []


def test_a_body_breaking_the_queue_schema_is_refused_before_sending(harness: Harness) -> None:
    with pytest.raises(MessageSchemaError, match="'id' is a required property"):
        harness.publisher.publish(body={"name": "x"}, routing_key="orders.created")
    with pytest.raises(MessageSchemaError):  # the schema is checked for the default exchange too
        harness.publisher.publish(body={"id": "7"}, routing_key="orders", exchange="")

    assert harness.run() == []


def test_batch_delivers_every_message_and_names_the_ones_that_failed(harness: Harness) -> None:
    with pytest.raises(BatchPublishError) as raised, harness.publisher.batch():
        for n in range(200):
            key = "nowhere" if n in (17, 150) else "plain"
            harness.publisher.publish(body={"n": n}, routing_key=key)

    assert [index for index, _ in raised.value.failures] == [17, 150]
    assert all(isinstance(error, Unroutable) for _, error in raised.value.failures)
    assert raised.value.published == 198
    received = sorted(request.params["n"] for _, request in harness.run())
    assert received == [n for n in range(200) if n not in (17, 150)]


def test_dispatch_task_publishes_by_task_name(harness: Harness) -> None:
    message_id = dispatch_task(harness.registry, "take_order", {"id": 42})

    ((_, request),) = [(t, r) for t, r in harness.run() if t == "take_order"]
    assert request.message_id == message_id and request.params == {"id": 42}


def test_publishes_from_inside_a_task_run_after_it(harness: Harness) -> None:
    harness.publisher.publish(body={"steps": 3}, routing_key="chain.start")

    ran = [(task, request.params.get("id")) for task, request in harness.run()]
    assert ran[0] == ("chain", None)
    expected = [("take_order", i) for i in range(3)] + [("audit", i) for i in range(3)]
    assert sorted(ran[1:]) == sorted(expected)
