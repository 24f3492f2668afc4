"""One behaviour, two transports: the same scenarios on the local transport and through ``mserve``.

Each scenario runs twice, ``local`` (tasks run inside ``publish()``) and ``mserve`` (a real
worker process on RabbitMQ, one per module, in a throw-away vhost), and asserts the same
expectations on both: what the tasks received (``parity_app`` records every run to a file),
what was dead-lettered with which ``x-mqwire-*`` headers, what a queue no task consumes keeps,
and what ``publish()`` refused. A divergence between the transports fails one of the two.
``wait_idle`` stands for "everything has run" on the worker; nothing sleeps.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import topology_setup as wiring
from transport_sides import Side, dead_letter_queues, local_side, mserve_side

from mqwire.runtime import (
    DecodeError,
    MessageSchemaError,
    PublishConnectionError,
    Registry,
    Unroutable,
    load,
)
from mqwire.testing import WorkerProcess

pytestmark = pytest.mark.broker

TOPOLOGY = """\
version: 1
connections:
  main: {url: "${AMQP_URL}"}
publisher_consumers:
  jobs:
    prefix: parity.jobs.mq
    transport: amqp
    connection: main
    exchange: mqwire.parity
    continue_on_exception: true
    routes:
      "orders.*": orders
      "orders.#": audit
      "spare.*": spare
      "outside.*": outside
  mail:
    prefix: parity.mail.mq
    transport: amqp
    connection: main
    exchange: mqwire.parity.mail
    routes:
      "mail.*": mails
queues:
  orders: {consumer: jobs, schema: order.json}
  audit: {consumer: jobs, max_body_bytes: 64}
  flaky: {consumer: jobs, retry: {delays: [0.05, 0.1]}}
  limited: {consumer: jobs, retry: {delays: [0.05]}}
  forms: {consumer: jobs, schema: form.json}
  chain: {consumer: jobs}
  limited_async: {consumer: jobs}
  chain_async: {consumer: jobs}
  mails: {consumer: mail}
  spare: {consumer: jobs}
  outside: {}
tasks:
  take_order: {task: "parity_app:record", queue: orders}
  audit: {task: "parity_app:record", queue: audit}
  flaky: {task: "parity_app:flaky", queue: flaky}
  limited: {task: "parity_app:overrun", queue: limited, timeout: 0.2}
  forms: {task: "parity_app:record", queue: forms}
  chain: {task: "parity_app:chain", queue: chain}
  limited_async: {task: "parity_app:overrun_async", queue: limited_async, timeout: 0.2}
  chain_async: {task: "parity_app:chain_async", queue: chain_async}
  mails: {task: "parity_app:record", queue: mails}
"""
SCHEMAS = {
    "order.json": {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}},
    "form.json": {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string"}, "id": {"type": "string", "pattern": "^[0-9]+$"}},
    },
}
FORM = "application/x-www-form-urlencoded"
HERE = Path(__file__).parent.parent  # tests/runtime: the test apps


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("parity")
    inis = {t: wiring.compile_into(folder / t, TOPOLOGY, t) for t in ("local", "amqp")}
    for ini in inis.values():  # schema: paths are relative to the topology file
        for name, schema in SCHEMAS.items():
            (ini.parent / name).write_text(json.dumps(schema), encoding="utf-8")
    return inis


@pytest.fixture(scope="module")
def worker(
    vhost_url: str, compiled: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[WorkerProcess, Path]]:
    """One ``mserve`` for the module, on the topology declared in the module's vhost."""
    folder = tmp_path_factory.mktemp("parity-mserve")
    runs = folder / "runs.jsonl"
    registry = load(compiled["amqp"], environ={"AMQP_URL": vhost_url})
    wiring.declare(vhost_url, registry)
    registry.close()
    environ = {"AMQP_URL": vhost_url, "PARITY_LOG": str(runs)}
    process = WorkerProcess(compiled["amqp"], log_dir=folder, environ=environ, pythonpath=[HERE])
    try:
        process.wait_ready()
        yield process, runs
    finally:
        process.kill()


@pytest.fixture(params=["local", "mserve"])
def side(
    request: pytest.FixtureRequest,
    compiled: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Side]:
    if request.param == "local":
        runs = tmp_path / "runs.jsonl"
        monkeypatch.setenv("PARITY_LOG", str(runs))
        mqwire_local: Callable[..., Registry] = request.getfixturevalue("mqwire_local")
        yield local_side(mqwire_local(compiled["local"]), runs)
        return
    url: str = request.getfixturevalue("vhost_url")
    process, runs = request.getfixturevalue("worker")
    with mserve_side(process, runs, url, dead_letter_queues(compiled["amqp"], url)) as made:
        yield made


def ran(side: Side) -> list[tuple[str, Any, int]]:
    """(task, id, attempt) of every run, sorted: runs on different queues may interleave."""
    return sorted((r["task"], r["params"].get("id"), r["attempt"]) for r in side.settle().runs)


# -- routing -------------------------------------------------------------------------------


def test_a_key_matched_by_two_patterns_reaches_each_queue_once(side: Side) -> None:
    side.publish({"id": 1}, "orders.created")
    side.publish({"id": 2}, "orders.eu.created")

    assert ran(side) == [("audit", 1, 1), ("audit", 2, 1), ("take_order", 1, 1)]


def test_a_key_no_queue_is_bound_to_is_unroutable_and_reaches_nothing(side: Side) -> None:
    with pytest.raises(Unroutable, match="NO_ROUTE"):
        side.publish({"id": 1}, "invoices.created")
    assert side.publish({"id": 2}, "invoices.created", mandatory=False)  # dropped, as asked

    observed = side.settle()
    assert observed.runs == [] and observed.dead_letters == [] and observed.held == {}


def test_an_exchange_the_topology_lacks_is_refused_and_reaches_nothing(side: Side) -> None:
    with pytest.raises(PublishConnectionError, match="NOT_FOUND") as raised:
        side.publish({"id": 1}, "audit", exchange="billing")

    assert raised.value.exchange == "billing"
    assert side.settle().runs == []


def test_another_publisher_consumers_exchange_routes_by_its_own_bindings(side: Side) -> None:
    side.publish({"id": 1}, "mail.sent", exchange="mqwire.parity.mail")
    with pytest.raises(Unroutable, match="NO_ROUTE"):
        side.publish({"id": 2}, "orders.created", exchange="mqwire.parity.mail")

    assert ran(side) == [("mails", 1, 1)]


def test_a_queue_no_worker_consumes_holds_what_reaches_it_by_route_or_by_name(side: Side) -> None:
    side.publish({"id": 1}, "outside.created")
    side.publish({"id": 2}, "outside", exchange="")

    observed = side.settle()
    assert observed.runs == [] and observed.dead_letters == []
    assert observed.held == {"outside": [b'{"id":1}', b'{"id":2}']}


def test_a_served_queue_without_a_task_accepts_and_dead_letters_what_reaches_it(
    side: Side,
) -> None:
    side.publish({"id": 1}, "spare.created")
    side.publish({"id": 2}, "spare", exchange="")

    observed = side.settle()
    assert observed.runs == [] and observed.held == {}
    assert [(d.queue, json.loads(d.body)) for d in observed.dead_letters] == [
        ("spare.dead", {"id": 1}),
        ("spare.dead", {"id": 2}),
    ]
    assert observed.dead_letters[0].headers == {  # a first attempt carries no attempt header
        "x-mqwire-attempts": 1,
        "x-mqwire-exception": "",
        "x-mqwire-reason": "no task consumes queue 'spare'",
        "x-mqwire-task": "",
        "x-mqwire-queue": "spare",
    }


def test_a_dead_letter_queue_holds_what_is_published_to_it_and_a_retry_queue_hands_it_on(
    side: Side,
) -> None:
    side.publish({"id": 1}, "flaky.dead", exchange="")  # declared: the broker accepts it
    side.publish({"id": 2}, "flaky.retry.50ms", exchange="")  # back to flaky after 50 ms

    observed = side.settle()
    assert observed.held == {"flaky.dead": [b'{"id":1}']} and observed.dead_letters == []
    assert ran(side) == [("flaky", 2, 1)]


def test_a_queue_is_reached_by_its_name_on_the_exchange_and_the_default_one(side: Side) -> None:
    side.publish({"id": 1}, "audit")
    side.publish({"id": 2}, "audit", exchange="")

    assert ran(side) == [("audit", 1, 1), ("audit", 2, 1)]


# -- failures ------------------------------------------------------------------------------


def test_a_failing_task_is_retried_with_its_attempt_numbers_until_it_succeeds(side: Side) -> None:
    side.publish({"id": 1, "fail": 2}, "flaky")

    assert ran(side) == [("flaky", 1, 1), ("flaky", 1, 2), ("flaky", 1, 3)]
    assert side.settle().dead_letters == []


def test_after_the_last_retry_the_message_is_dead_lettered_with_its_headers(side: Side) -> None:
    side.publish({"id": 7, "fail": 99}, "flaky")

    assert ran(side) == [("flaky", 7, 1), ("flaky", 7, 2), ("flaky", 7, 3)]
    (dead,) = side.settle().dead_letters
    assert dead.queue == "flaky.dead" and json.loads(dead.body) == {"id": 7, "fail": 99}
    assert dead.headers == {
        "x-mqwire-attempt": 3,
        "x-mqwire-attempts": 3,
        "x-mqwire-exception": "ValueError",
        "x-mqwire-reason": "ValueError: 7 failed on attempt 3",
        "x-mqwire-task": "flaky",
        "x-mqwire-queue": "flaky",
    }


def test_a_task_past_its_timeout_is_retried_then_dead_lettered_as_a_task_timeout(
    side: Side,
) -> None:
    side.publish({"id": 3}, "limited")

    assert ran(side) == [("limited", 3, 1), ("limited", 3, 2)]
    (dead,) = side.settle().dead_letters
    assert dead.queue == "limited.dead"
    assert dead.headers == {
        "x-mqwire-attempt": 2,
        "x-mqwire-attempts": 2,
        "x-mqwire-exception": "TaskTimeout",
        "x-mqwire-reason": "TaskTimeout: task 'limited' ran longer than its timeout of 0.2 s",
        "x-mqwire-task": "limited",
        "x-mqwire-queue": "limited",
    }


def test_a_coroutine_task_past_its_timeout_is_dead_lettered_as_a_task_timeout(
    side: Side,
) -> None:
    side.publish({"id": 4}, "limited_async")

    assert ran(side) == [("limited_async", 4, 1)]
    (dead,) = side.settle().dead_letters
    assert (dead.queue, dead.headers["x-mqwire-exception"]) == ("limited_async.dead", "TaskTimeout")
    assert dead.headers["x-mqwire-reason"] == (
        "TaskTimeout: task 'limited_async' ran longer than its timeout of 0.2 s"
    )


def test_a_body_breaking_the_schema_is_refused_at_publish_and_dead_lettered_on_receipt(
    side: Side,
) -> None:
    with pytest.raises(MessageSchemaError, match="'id' is a required property"):
        side.publish({"name": "x"}, "orders.created")  # refused whole: audit gets none either
    side.inject("orders", b'{"id": "7"}', "application/json")  # from a producer that checks none

    observed = side.settle()
    assert observed.runs == []
    (dead,) = observed.dead_letters
    assert (dead.queue, dead.headers["x-mqwire-exception"]) == ("orders.dead", "MessageSchemaError")
    assert dead.headers["x-mqwire-reason"] == (
        "body does not match the schema of queue 'orders': '7' is not of type 'integer' (at $.id)"
    )
    assert (dead.headers["x-mqwire-attempts"], dead.headers["x-mqwire-task"]) == (1, "take_order")


def test_undecodable_bodies_are_dead_lettered_at_once_or_refused_where_a_schema_checks(
    side: Side,
) -> None:
    json_type = {"content_type": "application/json"}
    with pytest.raises(DecodeError, match="not valid JSON"):  # orders' schema decodes it first
        side.publish("{not json", "orders", exchange="", properties=json_type)
    side.publish("{not json", "audit", properties=json_type)
    side.inject("audit", b"hello", "text/plain")

    observed = side.settle()
    assert observed.runs == []
    dead = observed.dead_letters
    assert [(d.queue, d.headers["x-mqwire-exception"]) for d in dead] == [
        ("audit.dead", "DecodeError")
    ] * 2
    reasons = sorted(d.headers["x-mqwire-reason"] for d in dead)
    assert reasons[0].startswith("body is not valid JSON: Expecting property name enclosed in")
    assert reasons[1].startswith("content type 'text/plain' is not one this queue accepts")


def test_a_body_over_the_queues_size_limit_is_dead_lettered_undecoded(side: Side) -> None:
    side.publish({"pad": "x" * 60}, "audit")

    observed = side.settle()
    assert observed.runs == []
    (dead,) = observed.dead_letters
    assert (dead.queue, dead.headers["x-mqwire-exception"]) == ("audit.dead", "")
    assert dead.headers["x-mqwire-reason"] == (
        "body of 70 bytes is over queue 'audit''s limit of 64 (max_body_bytes)"
    )


# -- tasks publishing, form bodies ---------------------------------------------------------


def test_publishes_from_inside_a_task_run_after_it(side: Side) -> None:
    side.publish({"steps": 3}, "chain")  # by the queue's name, bound on the exchange

    runs = side.settle().runs
    assert runs[0]["task"] == "chain"  # it recorded before it published
    expected = [("audit", i, 1) for i in range(3)] + [("take_order", i, 1) for i in range(3)]
    assert ran(side) == sorted([("chain", None, 1), *expected])
    assert {r["routing_key"] for r in runs[1:]} == {"orders.followup"}


def test_awaited_publishes_from_inside_a_coroutine_task_run_after_it(side: Side) -> None:
    side.publish({"steps": 2}, "chain_async")

    runs = side.settle().runs
    assert runs[0]["task"] == "chain_async"
    expected = [("audit", i, 1) for i in range(2)] + [("take_order", i, 1) for i in range(2)]
    assert ran(side) == sorted([("chain_async", None, 1), *expected])


def test_form_bodies_reach_tasks_as_params_and_are_checked_against_the_schema_as_fields(
    side: Side,
) -> None:
    form = {"content_type": FORM}
    side.publish("id=3&name=a+b", "forms", properties=form)
    with pytest.raises(MessageSchemaError, match="'name' is a required property"):
        side.publish("id=4", "forms", properties=form)
    side.inject("forms", b"id=x&name=n", FORM)  # unchecked producer: dead-lettered on receipt

    observed = side.settle()
    ((run),) = observed.runs
    assert run["params"] == {"id": "3", "name": "a b"} and run["json"] is None
    (dead,) = observed.dead_letters
    assert dead.headers["x-mqwire-exception"] == "MessageSchemaError"
    assert "'x' does not match '^[0-9]+$' (at $.id)" in dead.headers["x-mqwire-reason"]
