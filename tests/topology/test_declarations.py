"""The declaration plan: what a publisher_consumer needs on the broker, derived from the model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

import topology_setup as wiring

from mqwire.runtime.settings import read_settings
from mqwire.topology import delays, load_topology, read_compiled_ini
from mqwire.topology.declarations import (
    BindingDeclaration,
    Declarations,
    ExchangeDeclaration,
    QueueDeclaration,
    Routing,
    declarations,
)

EXAMPLE_INI = Path(__file__).resolve().parents[2] / "examples" / "ticketing" / "compiled.ini"


def example_plan(*names: str, ladder: bool = False):  # type: ignore[no-untyped-def]
    """The plan of the example's ``names``; without the delay ladder unless ``ladder``."""
    compiled = read_compiled_ini(EXAMPLE_INI.read_text(encoding="utf-8"))
    pcs = compiled.topology.publisher_consumers
    settings = [read_settings(compiled.settings, n, pcs[n].prefix, {}) for n in names]
    plan = declarations(settings, compiled.topology.queues)
    return plan if ladder else without_ladder(plan)


def without_ladder(plan: Declarations) -> Declarations:
    """``plan`` less the delay ladder (``test_delays.py`` tests it)."""
    return Declarations(
        tuple(x for x in plan.exchanges if not x.name.startswith(delays.PREFIX)),
        tuple(q for q in plan.queues if not q.name.startswith(delays.PREFIX)),
        tuple(b for b in plan.bindings if not b.exchange.startswith(delays.PREFIX)),
    )


def test_the_lots_consumer_declares_its_exchange_queues_retries_and_bindings() -> None:
    plan = example_plan("lots")

    assert plan.exchanges == (ExchangeDeclaration("ticketing.lots", "topic", durable=True),)
    assert [q.name for q in plan.queues] == [
        "lots.audit",
        "lots.audit.dead",
        "lots.election",
        "lots.election.dead",
        "lots.election.retry.1s",
        "lots.election.retry.30s",
        "lots.election.retry.5s",
        "lots.mail",
        "lots.mail.dead",
    ]
    by_name = {q.name: q for q in plan.queues}
    assert by_name["lots.election"] == QueueDeclaration(
        "lots.election", durable=True, arguments={"x-max-priority": 10}
    )
    assert by_name["lots.election.retry.5s"].arguments == {
        "x-message-ttl": 5000,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": "lots.election",
    }
    assert by_name["lots.election.dead"] == QueueDeclaration("lots.election.dead")
    assert plan.bindings == tuple(
        BindingDeclaration(queue, "ticketing.lots", pattern)
        for pattern, queue in [
            ("lots.#", "lots.audit"),
            ("lots.*.mail", "lots.mail"),
            ("lots.audit", "lots.audit"),
            ("lots.election", "lots.election"),
            ("lots.mail", "lots.mail"),
        ]
    )


def test_a_consumer_without_exchange_binds_nothing_and_uses_the_default_exchange() -> None:
    plan = example_plan("cart")

    assert plan.exchanges == () and plan.bindings == ()
    assert [q.name for q in plan.queues] == ["cart", "cart.dead"]


def test_plans_of_several_consumers_declare_each_queue_once() -> None:
    plan = example_plan("cart", "lots")

    names = [q.name for q in plan.queues]
    assert len(names) == len(set(names)) == 11
    assert example_plan("cart", "lots", ladder=True) == example_plan("lots", "cart", ladder=True)


def test_the_broker_accepts_the_plan_twice(vhost_url: str, rabbitmqctl: Callable[..., str]) -> None:
    plan = example_plan("cart", "lots", ladder=True)
    for _ in range(2):  # declarations are idempotent: a restarted worker declares again
        wiring.apply(vhost_url, plan)

    vhost = unquote(vhost_url.rsplit("/", 1)[1])
    listed = rabbitmqctl("list_queues", "-p", vhost, "--no-table-headers", "name", "arguments")
    rows = dict(line.split("\t", 1) for line in listed.splitlines())
    assert sorted(rows) == sorted(q.name for q in plan.queues)
    assert "5000" in rows["lots.election.retry.5s"]
    assert "x-max-priority" in rows["lots.election"]


def test_a_queue_no_publisher_consumer_consumes_is_in_every_plan() -> None:
    """Another system consumes it: a publish naming it must be held, not refused as NO_ROUTE."""
    topology = load_topology(
        "version: 1\n"
        "publisher_consumers:\n"
        "  a: {prefix: a.mq, transport: local, exchange: ex, routes: {k: routed}}\n"
        "  b: {prefix: b.mq, transport: local}\n"
        "queues:\n"
        "  own: {consumer: a}\n"
        "  routed: {}\n"
        "  elsewhere: {}\n"
        "  other: {consumer: b}\n",
        scanner=None,
    )
    pcs = topology.publisher_consumers
    routing = [Routing(n, pcs[n].exchange, topology.effective_routes(n)) for n in ("a", "b")]

    names = {
        pc.name: [q.name for q in without_ladder(declarations([pc], topology.queues)).queues]
        for pc in routing
    }

    assert names["a"] == [
        *("elsewhere", "elsewhere.dead", "own", "own.dead", "routed", "routed.dead"),
    ]
    assert names["b"] == [
        *("elsewhere", "elsewhere.dead", "other", "other.dead", "routed", "routed.dead"),
    ]
