"""The delay ladder's pure parts: delays in whole seconds, routing keys, and the walk a message
takes through the planned bindings (simulated with mqwire's own topic matcher)."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mqwire.topology import delays
from mqwire.topology.declarations import Declarations, Routing, declarations, owns_binding
from mqwire.topology.model import Queue, Route
from mqwire.topology.routing import topic_matches


def test_delays_round_up_to_whole_seconds() -> None:
    assert delays.whole_seconds(0) == 0
    assert delays.whole_seconds(0.0) == 0
    assert delays.whole_seconds(0.001) == 1
    assert delays.whole_seconds(0.5) == 1
    assert delays.whole_seconds(3) == 3
    assert delays.whole_seconds(3.2) == 4
    assert delays.whole_seconds(timedelta(days=14)) == 14 * 86400
    assert delays.whole_seconds(timedelta(milliseconds=1500)) == 2
    assert delays.MAX_DELAY >= 14 * 86400


@pytest.mark.parametrize(
    ("delay", "says"),
    [
        (-1, "0 or more seconds"),
        (timedelta(seconds=-0.5), "0 or more seconds"),
        (math.inf, "0 or more seconds"),
        (math.nan, "0 or more seconds"),
        (delays.MAX_DELAY + 0.5, "over the longest one"),
        (timedelta(days=25), "over the longest one"),
        ("5", "int or float"),
        (True, "int or float"),
    ],
)
def test_a_bad_delay_is_refused_with_what_is_wrong(delay: object, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        delays.whole_seconds(delay)  # type: ignore[arg-type]


def test_a_routing_key_holds_the_digits_the_exchange_and_the_real_key() -> None:
    key = delays.routing_key(5, "shop.events", "order.created")
    assert key == "0." * 18 + "1.0.1.shop~events.order.created"
    assert delays.parse_routing_key(key) == (5, "shop.events", "order.created")
    assert delays.parse_routing_key(delays.routing_key(1, "", "work")) == (1, "", "work")
    assert delays.parse_routing_key("order.created") is None
    assert delays.entry_exchange(5) == delays.level_exchange(2) == "mqwire.delay.level02"
    assert delays.entry_exchange(1) == "mqwire.delay.level00"


def test_level_queues_wait_two_to_the_level_seconds_then_go_one_level_down() -> None:
    assert delays.level_queue(5) == "mqwire.delay.level05.32s"
    assert delays.queue_arguments(5) == {
        "x-message-ttl": 32000,
        "x-dead-letter-exchange": "mqwire.delay.level04",
    }
    assert delays.queue_arguments(0)["x-dead-letter-exchange"] == delays.DELIVERY_EXCHANGE


PLAN = declarations(
    [Routing("shop", "shop.events", (Route("order.*", "orders"), Route("#", "audit")))],
    {"orders": Queue("orders", consumer="shop"), "audit": Queue("audit", consumer="shop")},
    delays=True,
)


def walk(plan: Declarations, exchange: str, key: str) -> tuple[list[str], set[str]]:
    """(ladder queues waited in, in order; real queues reached) of a message published to
    ``exchange`` with ``key``, following the plan's bindings and dead-letter exchanges."""
    ttl_next = {q.name: q.arguments.get("x-dead-letter-exchange") for q in plan.queues}
    waited: list[str] = []
    reached: set[str] = set()
    pending = [exchange]
    while pending:
        source = pending.pop()
        for b in plan.bindings:
            if b.exchange != source or not topic_matches(b.routing_key, key):
                continue
            if b.destination_type == "exchange":
                pending.append(b.queue)
            elif b.queue.startswith(delays.PREFIX):
                waited.append(b.queue)
                pending.append(str(ttl_next[b.queue]))
            else:
                reached.add(b.queue)
    return waited, reached


@given(st.integers(1, delays.MAX_DELAY))
def test_a_message_waits_in_the_levels_of_its_binary_digits_then_reaches_its_queues(
    seconds: int,
) -> None:
    key = delays.routing_key(seconds, "shop.events", "order.created")
    waited, reached = walk(PLAN, delays.entry_exchange(seconds), key)

    levels = [k for k in reversed(range(delays.LEVELS)) if seconds >> k & 1]
    assert waited == [delays.level_queue(k) for k in levels]  # highest first, each once
    assert sum(2**k for k in levels) == seconds
    assert reached == {"orders", "audit"}


def test_the_delivery_routes_as_the_real_exchange_would() -> None:
    def reached(exchange: str, key: str) -> set[str]:
        return walk(PLAN, delays.entry_exchange(3), delays.routing_key(3, exchange, key))[1]

    assert reached("shop.events", "order.created") == {"orders", "audit"}
    assert reached("shop.events", "order.created.late") == {"audit"}
    assert reached("", "orders") == {"orders"}  # the default exchange: by queue name
    assert reached("other", "order.created") == set()  # not an exchange of the plan


def test_a_plan_declares_the_ladder_once_with_exchange_bindings_between_levels() -> None:
    ladder = [q for q in PLAN.queues if q.name.startswith(delays.PREFIX)]
    assert len(ladder) == delays.LEVELS
    between = [b for b in PLAN.bindings if b.destination_type == "exchange"]
    assert len(between) == delays.LEVELS
    assert {x.name for x in PLAN.exchanges} >= {delays.DELIVERY_EXCHANGE, "shop.events"}
    assert declarations([], {}, delays=True) == Declarations()  # nothing to publish: no ladder
    without = declarations(
        [Routing("shop", "shop.events", (Route("order.*", "orders"),))],
        {"orders": Queue("orders", consumer="shop")},
    )
    assert [q.name for q in without.queues] == ["orders", "orders.dead"]  # not asked for


def test_a_plan_answers_only_for_its_own_bindings_on_the_shared_ladder() -> None:
    def owns(exchange: str, destination: str, key: str) -> bool:
        return owns_binding(PLAN, exchange, destination, key)

    deliver = delays.DELIVERY_EXCHANGE
    assert owns("shop.events", "anything", "x.#")  # its own exchange: every binding
    assert owns(deliver, "orders", delays.delivery_pattern("shop.events", "gone.#"))
    assert owns(deliver, "orders", delays.delivery_pattern("", "orders"))
    # another topology's, in the same vhost: neither reported nor pruned
    assert not owns(deliver, "invoices", delays.delivery_pattern("billing", "invoice.#"))
    assert not owns(deliver, "invoices", delays.delivery_pattern("", "invoices"))
    assert not owns(delays.level_exchange(3), "elsewhere", "#")
    assert not owns(deliver, "orders", "not.a.ladder.pattern")
