"""The local transport: routing, failures, retries and dead letters as a broker would have them."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import local_app
import pytest
import topology_setup as wiring

from mqwire.runtime import (
    BatchPublishError,
    DecodeError,
    EncodeError,
    LocalPublisherConsumer,
    MessageSchemaError,
    PublishConnectionError,
    Registry,
    Unroutable,
    dispatch_task,
    load,
)
from mqwire.runtime.publish.base import BATCH_CHUNK

TOPOLOGY = """\
version: 1
publisher_consumers:
  jobs:
    prefix: local.jobs.mq
    transport: local
    exchange: shop
    routes:
      "orders.*": orders
      "orders.#": orders
      "*.eu": audit
  quiet:
    prefix: local.quiet.mq
    transport: local
    continue_on_exception: true
queues:
  orders: {consumer: jobs, retry: {delays: [1, 5]}}
  audit: {consumer: jobs}
  spare: {consumer: jobs}
  outside: {}
  awaited: {consumer: jobs, retry: {delays: [1]}}
  checked: {consumer: jobs, schema: checked.json}
  lenient: {consumer: quiet, retry: {delays: [10]}}
  timed: {consumer: jobs}
tasks:
  orders: {task: "local_app:work", queue: orders}
  audit: {task: "local_app:work", queue: audit}
  checked: {task: "local_app:work", queue: checked}
  lenient: {task: "local_app:work", queue: lenient}
  awaited: {task: "local_app:work_async", queue: awaited}
  timed: {task: "local_app:work", queue: timed, timeout: 30}
delays: true
"""

#: Recursive, so checking a deeply nested body needs deep recursion.
CHECKED_SCHEMA = {
    "type": "object",
    "required": ["id"],
    "properties": {"id": {"type": "integer"}, "kids": {"type": "array", "items": {"$ref": "#"}}},
}
NOW = 1_700_000_000.0


@pytest.fixture(scope="module")
def ini(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("local")
    (folder / "checked.json").write_text(json.dumps(CHECKED_SCHEMA), encoding="utf-8")
    return wiring.compile_into(folder, TOPOLOGY, "local")


@pytest.fixture
def registry(ini: Path, mqwire_local: Callable[..., Registry]) -> Iterator[Registry]:
    local_app.LOG.clear()
    registry = mqwire_local(ini)  # the plugin's fixture, as applications' tests use it
    registry.local_broker.clock = lambda: NOW
    yield registry
    local_app.LOG.clear()


def ran(*kinds: str) -> list[tuple[str, Any, int]]:
    """(task, id, attempt) of each logged step of the given kinds ("start" by default)."""
    return [step[1:] for step in local_app.LOG if step[0] in (kinds or ("start",))]


@pytest.mark.parametrize(
    ("routing_key", "queues"),
    [
        ("orders.eu", ["audit", "orders"]),  # orders.* and orders.# both reach orders: once
        ("orders", ["orders"]),  # '#' matches zero words, and the queue's name binds it too
        ("orders.eu.de", ["orders"]),
        ("audit", ["audit"]),
    ],
)
def test_topic_patterns_route_one_copy_to_each_queue_reached(
    registry: Registry, routing_key: str, queues: list[str]
) -> None:
    registry.publisher("jobs").publish(body={"id": 1}, routing_key=routing_key)

    assert sorted(task for task, _, _ in ran()) == queues


def test_a_key_reaching_no_queue_is_unroutable_unless_not_mandatory(registry: Registry) -> None:
    publisher = registry.publisher("jobs")

    with pytest.raises(Unroutable, match=r"NO_ROUTE .* 'invoices\.created'"):
        publisher.publish(body={"id": 1}, routing_key="invoices.created")
    message_id = publisher.publish(body={"id": 2}, routing_key="invoices.created", mandatory=False)

    assert message_id and ran() == []
    assert registry.local_broker.dead_letters == [] and registry.local_broker.undelivered == {}


def test_an_unknown_exchange_is_a_connection_error_like_the_broker_closing(
    registry: Registry,
) -> None:
    with pytest.raises(PublishConnectionError, match="NOT_FOUND - no exchange 'billing'") as raised:
        registry.publisher("jobs").publish(body={"id": 1}, routing_key="audit", exchange="billing")

    assert (raised.value.exchange, raised.value.routing_key) == ("billing", "audit")
    assert ran() == []


def test_a_publisher_reaches_another_publisher_consumers_exchange_by_its_routes(
    registry: Registry,
) -> None:
    registry.publisher("quiet").publish(body={"id": 1}, routing_key="orders.eu", exchange="shop")

    assert sorted(ran()) == [("audit", 1, 1), ("orders", 1, 1)]


def test_a_message_for_a_queue_no_worker_consumes_is_held_undelivered(registry: Registry) -> None:
    registry.publisher("jobs").publish(body={"id": 1}, routing_key="outside", exchange="")

    (delivery,) = registry.local_broker.undelivered["outside"]
    assert json.loads(delivery.body) == {"id": 1} and ran() == []
    assert registry.local_broker.dead_letters == []


def test_a_message_for_a_served_queue_without_task_is_dead_lettered_as_mserve_does(
    registry: Registry,
) -> None:
    registry.publisher("jobs").publish(body={"id": 1}, routing_key="spare")  # not raised

    (dead,) = registry.local_broker.dead_letters
    assert (dead.queue, dead.reason) == ("spare", "no task consumes queue 'spare'")
    assert registry.local_broker.undelivered == {} and ran() == []


def test_retry_and_dead_letter_queues_are_reached_by_name_as_on_the_broker(
    registry: Registry,
) -> None:
    publisher = registry.publisher("jobs")
    publisher.publish(body={"id": 1}, routing_key="orders.retry.1s", exchange="")
    publisher.publish(body={"id": 2}, routing_key="orders.dead", exchange="")

    assert ran() == [("orders", 1, 1)]  # handed back to its queue, at once
    (held,) = registry.local_broker.undelivered["orders.dead"]
    assert json.loads(held.body) == {"id": 2}


def test_retries_run_at_once_and_a_later_success_is_acked(registry: Registry) -> None:
    message_id = registry.publisher("jobs").publish(body={"id": 1, "fail": 2}, routing_key="orders")

    assert ran() == [("orders", 1, 1), ("orders", 1, 2), ("orders", 1, 3)]
    assert registry.local_broker.processed == [("orders", message_id)]
    assert registry.local_broker.dead_letters == []


def test_after_the_last_retry_the_error_is_raised_and_the_message_dead_lettered(
    registry: Registry,
) -> None:
    publisher = registry.publisher("jobs")
    assert isinstance(publisher, LocalPublisherConsumer)

    with pytest.raises(ValueError, match=r"^7 failed on attempt 3$"):
        publisher.publish(
            body={"id": 7, "fail": 99}, routing_key="orders", properties={"priority": 2}
        )

    assert ran() == [("orders", 7, 1), ("orders", 7, 2), ("orders", 7, 3)]
    (dead,) = publisher.dead_letters
    assert publisher.dead_letters is registry.local_broker.dead_letters
    assert (dead.queue, dead.dead_letter_queue) == ("orders", "orders.dead")
    assert dead.reason == "ValueError: 7 failed on attempt 3"
    assert dead.delivery.properties["priority"] == 2
    assert dead.delivery.headers == {  # the names docs/mserve.md documents
        "x-mqwire-attempt": 3,
        "x-mqwire-reason": "ValueError: 7 failed on attempt 3",
        "x-mqwire-exception": "ValueError",
        "x-mqwire-task": "orders",
        "x-mqwire-queue": "orders",
        "x-mqwire-attempts": 3,
        "x-mqwire-failed-at": int(NOW),
    }


def test_continue_on_exception_logs_instead_of_raising_and_still_dead_letters(
    registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="mqwire.runtime.publish.local"):
        registry.publisher("quiet").publish(body={"id": 3, "fail": 99}, routing_key="lenient")

    assert ran() == [("lenient", 3, 1), ("lenient", 3, 2)]
    (dead,) = registry.local_broker.dead_letters
    assert dead.reason == "ValueError: 3 failed on attempt 2"
    (record,) = caplog.records  # documented as logged; it used to vanish silently
    assert "lenient" in record.getMessage() and record.exc_info is not None
    assert isinstance(record.exc_info[1], ValueError)


def test_an_undecodable_body_is_dead_lettered_at_once_and_raised(registry: Registry) -> None:
    properties = {"content_type": "application/json"}

    with pytest.raises(DecodeError, match="not valid JSON"):
        registry.publisher("jobs").publish(
            body="{oops", routing_key="orders", properties=properties
        )

    assert ran() == []  # no task ran, and no retry although the queue has retries
    (dead,) = registry.local_broker.dead_letters
    assert dead.delivery.headers["x-mqwire-attempts"] == 1
    assert dead.delivery.headers["x-mqwire-exception"] == "DecodeError"


def test_publishes_inside_a_task_run_after_it_in_order_never_inside_it(
    registry: Registry,
) -> None:
    child: dict[str, Any] = {"id": "c1", "then": [["audit", {"id": "g1"}]]}
    body = {"id": "root", "then": [["audit", child], ["audit", {"id": "c2"}]]}

    registry.publisher("jobs").publish(body=body, routing_key="audit")

    assert [(kind, message_id) for kind, _, message_id, _ in local_app.LOG] == [
        ("start", "root"),
        ("end", "root"),  # its publishes returned before any of them ran
        ("start", "c1"),
        ("end", "c1"),
        ("start", "c2"),  # first in, first out: c2 before c1's own follow-up
        ("end", "c2"),
        ("start", "g1"),
        ("end", "g1"),
    ]


def test_a_retry_goes_behind_what_is_already_queued(registry: Registry) -> None:
    publisher = registry.publisher("jobs")
    with publisher.batch():
        publisher.publish(body={"id": 1, "fail": 1}, routing_key="orders")
        publisher.publish(body={"id": 2}, routing_key="audit")

    assert ran() == [("orders", 1, 1), ("audit", 2, 1), ("orders", 1, 2)]


def test_a_batch_runs_nothing_before_it_ends_and_names_what_failed(registry: Registry) -> None:
    publisher = registry.publisher("jobs")

    with pytest.raises(BatchPublishError) as raised, publisher.batch():
        publisher.publish(body={"id": 0}, routing_key="audit")
        publisher.publish(body={"id": 1}, routing_key="nowhere")
        publisher.publish(body={"id": 2}, routing_key="audit", exchange="billing")
        publisher.publish(body={"id": 3}, routing_key="audit")
        assert ran() == []

    error = raised.value
    assert str(error).startswith("2 of 4 messages were not published; first: #1 (Unroutable: ")
    assert [(i, type(e)) for i, e in error.failures] == [
        (1, Unroutable),
        (2, PublishConnectionError),
    ]
    assert error.published == 2 and error.routing_key == "nowhere"
    assert ran() == [("audit", 0, 1), ("audit", 3, 1)]


def test_every_message_is_run_before_the_first_failure_is_raised_with_the_others_as_notes(
    registry: Registry,
) -> None:
    publisher = registry.publisher("jobs")

    with pytest.raises(ValueError, match=r"^a failed") as raised, publisher.batch():
        for name, fail in [("a", 1), ("b", 0), ("c", 1)]:
            publisher.publish(body={"id": name, "fail": fail}, routing_key="audit")

    assert ran() == [("audit", "a", 1), ("audit", "b", 1), ("audit", "c", 1)]
    assert raised.value.__notes__ == ["also failed: ValueError: c failed on attempt 1"]
    assert [d.reason for d in registry.local_broker.dead_letters] == [
        "ValueError: a failed on attempt 1",
        "ValueError: c failed on attempt 1",
    ]


@pytest.mark.parametrize(
    ("body", "error", "fragment"),
    [
        ({"id": "7"}, MessageSchemaError, "'7' is not of type 'integer' (at $.id)"),
        ("{oops", DecodeError, "not valid JSON"),
    ],
)
def test_a_body_the_queue_schema_refuses_is_never_sent(
    registry: Registry, body: Any, error: type[Exception], fragment: str
) -> None:
    properties = {"content_type": "application/json"}

    with pytest.raises(error) as raised:
        registry.publisher("jobs").publish(body, routing_key="checked", properties=properties)

    assert fragment in str(raised.value)
    assert ran() == [] and registry.local_broker.dead_letters == []


def test_a_body_too_deep_for_a_recursive_schema_is_refused_as_a_schema_error(
    registry: Registry,
) -> None:
    body: dict[str, Any] = {"id": 0}
    for n in range(1, 300):
        body = {"id": n, "kids": [body]}

    with pytest.raises(MessageSchemaError, match="nested too deeply"):
        registry.publisher("jobs").publish(body, routing_key="checked")

    registry.publisher("jobs").publish({"id": 1, "kids": [{"id": 2}]}, routing_key="checked")
    assert ran() == [("checked", 1, 1)]


def test_a_coroutine_task_is_awaited_and_its_failure_retried(registry: Registry) -> None:
    publisher = registry.publisher("jobs")
    publisher.publish({"id": 1}, routing_key="awaited")
    with pytest.raises(ValueError, match="2 failed on attempt 2"):
        publisher.publish({"id": 2, "fail": 2}, routing_key="awaited")

    assert [entry[1:] for entry in local_app.LOG if entry[0] == "end"] == [
        ("awaited", 1, 1),
        ("awaited", 2, 1),
        ("awaited", 2, 2),
    ]


def test_a_coroutine_task_runs_when_publish_is_called_inside_an_event_loop(
    registry: Registry,
) -> None:
    async def handler() -> None:  # an async web application publishing
        registry.publisher("jobs").publish({"id": 3}, routing_key="awaited")

    asyncio.run(handler())

    assert ("end", "awaited", 3, 1) in local_app.LOG


def test_a_batch_larger_than_a_chunk_queues_every_message_before_a_task_failure_is_raised(
    registry: Registry,
) -> None:
    publisher = registry.publisher("jobs")
    with pytest.raises(ValueError, match="0 failed"), publisher.batch():
        publisher.publish({"id": 0, "fail": 5}, routing_key="spare.eu")
        for n in range(1, BATCH_CHUNK + 5):
            publisher.publish({"id": n}, routing_key="spare.eu")

    ids = [entry[2] for entry in local_app.LOG if entry[0] == "end"]
    assert ids[0] == 0 and set(ids) == set(range(BATCH_CHUNK + 5))


# -- delayed publishes: the local broker's clock moves only when told ---------------------------


def test_a_delay_needs_the_topology_to_declare_the_ladder(tmp_path: Path) -> None:
    (tmp_path / "checked.json").write_text(json.dumps(CHECKED_SCHEMA), encoding="utf-8")
    ini = wiring.compile_into(tmp_path, TOPOLOGY.replace("delays: true\n", ""), "local")
    registry = load(ini)
    try:
        publisher = registry.publisher("jobs")
        with pytest.raises(EncodeError, match=r"add `delays: true` to the topology"):
            publisher.publish(body={"id": 1}, routing_key="audit", delay=5)
        publisher.publish(body={"id": 2}, routing_key="audit", delay=0)  # no delay: published
    finally:
        registry.close()


def test_a_delayed_message_runs_only_once_advance_reaches_its_time(registry: Registry) -> None:
    publisher, broker = registry.publisher("jobs"), registry.local_broker
    publisher.publish(body={"id": "later"}, routing_key="audit", delay=timedelta(minutes=1))
    publisher.publish(body={"id": "soon"}, routing_key="audit", delay=0.5)  # rounds up to 1 s
    publisher.publish(body={"id": "now"}, routing_key="audit", delay=0)
    assert ran() == [("audit", "now", 1)]
    assert [(due, m.routing_key) for due, m in broker.delayed] == [(1, "audit"), (60, "audit")]

    broker.advance(0.9)
    assert ran() == [("audit", "now", 1)]
    broker.advance(0.1)
    assert ran() == [("audit", "now", 1), ("audit", "soon", 1)]
    broker.advance(58.9)
    assert len(ran()) == 2 and broker.now == pytest.approx(59.9)
    broker.advance(3 * 86400)
    assert ran() == [("audit", "now", 1), ("audit", "soon", 1), ("audit", "later", 1)]
    assert broker.delayed == []


def test_advance_runs_in_due_order_what_tasks_delay_in_the_meantime(registry: Registry) -> None:
    body = {"id": "root", "then": [["audit", {"id": "in-5"}, 5], ["audit", {"id": "in-2"}, 2]]}
    registry.publisher("jobs").publish(body=body, routing_key="audit", delay=10)
    chained = {"id": "chain", "then": [["audit", {"id": "chain+1"}, 1]]}
    registry.publisher("jobs").publish(body=chained, routing_key="audit", delay=11)

    registry.local_broker.advance(20)  # one call: every message due within it, in time order

    assert [message_id for _, message_id, _ in ran()] == [
        "root",
        "chain",
        "in-2",
        "chain+1",
        "in-5",
    ]
    assert registry.local_broker.now == 20


def test_delays_go_through_batches_and_dispatch_task_and_bad_ones_are_refused(
    registry: Registry,
) -> None:
    publisher, broker = registry.publisher("jobs"), registry.local_broker
    with publisher.batch():
        publisher.publish(body={"id": "b1"}, routing_key="audit", delay=2)
        publisher.publish(body={"id": "b2"}, routing_key="audit")
    dispatch_task(registry, "audit", {"id": "d1"}, delay=timedelta(seconds=1))
    assert ran() == [("audit", "b2", 1)]
    broker.advance(2)
    assert ran() == [("audit", "b2", 1), ("audit", "d1", 1), ("audit", "b1", 1)]

    with pytest.raises(EncodeError, match="0 or more seconds"):
        publisher.publish(body={}, routing_key="audit", delay=-0.1)
    with pytest.raises(EncodeError, match="over the longest one"):
        publisher.publish(body={}, routing_key="audit", delay=timedelta(days=25))
    with pytest.raises(Unroutable, match="reaches only the queues the topology binds"):
        publisher.publish(body={}, routing_key="invoices.created", delay=1)
    with pytest.raises(ValueError, match="0 or more seconds"):
        broker.advance(-1)
    assert broker.delayed == []


def test_a_delayed_message_that_fails_is_retried_and_raised_from_advance(
    registry: Registry,
) -> None:
    registry.publisher("jobs").publish(
        body={"id": "x", "fail": 5}, routing_key="orders.eu.de", delay=3
    )
    with pytest.raises(ValueError, match="x failed on attempt 3"):
        registry.local_broker.advance(3)
    assert ran() == [("orders", "x", 1), ("orders", "x", 2), ("orders", "x", 3)]
    (dead,) = registry.local_broker.dead_letters
    assert dead.delivery.routing_key == "orders.eu.de" and dead.delivery.exchange == "shop"


def test_apublish_waits_for_advance_like_publish(registry: Registry) -> None:
    publisher = registry.publisher("jobs")
    asyncio.run(publisher.apublish(body={"id": "a1"}, routing_key="audit", delay=2))
    assert ran() == []
    registry.local_broker.advance(2)
    assert ran() == [("audit", "a1", 1)]


def test_a_task_in_a_thread_of_its_own_publishes_with_a_delay_without_waiting(
    registry: Registry,
) -> None:
    """A task with ``timeout:`` runs in a thread of its own while the run holds the broker:
    holding a delayed message must not wait for that run."""
    body = {"id": "timed", "then": [["audit", {"id": "later"}, 2]]}
    registry.publisher("jobs").publish(body=body, routing_key="timed")
    assert ran() == [("timed", "timed", 1)] and len(registry.local_broker.delayed) == 1
    registry.local_broker.advance(2)
    assert ran() == [("timed", "timed", 1), ("audit", "later", 1)]
