"""The topic matcher: edge cases, validation, RouteTable, and proof against a real RabbitMQ."""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pika
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mqwire.topology.model import Route
from mqwire.topology.routing import (
    NAME_CHARS,
    RouteTable,
    pattern_problem,
    routing_key_problem,
    topic_matches,
)

#: (pattern, routing key, does RabbitMQ route it?) within our naming rule.
MATCH_TABLE: list[tuple[str, str, bool]] = [
    # Exact words, and case sensitivity.
    ("a", "a", True),
    ("a.b", "a.b", True),
    ("a.b", "a", False),
    ("a.b", "a.b.c", False),
    ("a.b", "a.bc", False),
    ("A", "a", False),
    ("a", "A", False),
    ("order-created_v2", "order-created_v2", True),
    # '*' is exactly one word.
    ("*", "a", True),
    ("*", "a.b", False),
    ("a.*", "a.b", True),
    ("a.*", "a.b.c", False),
    ("a.*", "a", False),
    ("*.*", "a", False),
    ("*.*", "a.b", True),
    # '#' is zero or more words.
    ("#", "a", True),
    ("#", "a.b.c", True),
    ("a.#", "a", True),
    ("a.#", "a.b.c", True),
    ("a.#", "b", False),
    ("a.#", "b.a", False),
    ("#.b", "b", True),
    ("#.b", "a.b", True),
    ("#.b", "b.a", False),
    ("a.#.b", "a.b", True),
    ("a.#.b", "a.x.y.b", True),
    ("a.#.b", "a.x.y", False),
    ("a.#.b", "x.a.b", False),
    # Several '#', and '#' next to '*'.
    ("#.#", "a", True),
    ("#.#", "a.b.c", True),
    ("a.#.#.b", "a.b", True),
    ("a.#.#.b", "a.x.b", True),
    ("a.#.#.b", "a.x.y.z.b", True),
    ("a.#.#.b", "a.x", False),
    ("#.a.#", "a", True),
    ("#.a.#", "x.a.y", True),
    ("#.a.#", "x.y", False),
    ("*.#.*", "a", False),
    ("*.#.*", "a.b", True),
    ("*.#.*", "a.b.c.d", True),
    ("#.*", "a", True),
    ("#.*.b", "b", False),
]

#: Outside our naming rule (which refuses these) the matcher still routes as RabbitMQ does:
#: "" has zero words, "a." has an empty last word, and a mixed word like "a*" is a literal.
BEYOND_NAMING_RULE: list[tuple[str, str, bool]] = [
    ("#", "", True),
    ("*", "", False),
    ("", "", True),
    ("", "a", False),
    ("*.#", "", False),
    ("a.*", "a.", True),
    ("a.*.b", "a..b", True),
    ("#.", "a.", True),
    ("#.", "a", False),
    (".#", ".a", True),
    ("a*", "a*", True),
    ("a*", "ab", False),
    ("*", "a*", True),
]


def _ids(table: list[tuple[str, str, bool]]) -> list[str]:
    return [f"{p!r}~{k!r}" for p, k, _ in table]


@pytest.mark.parametrize(("pattern", "key", "expected"), MATCH_TABLE, ids=_ids(MATCH_TABLE))
def test_edge_cases(pattern: str, key: str, expected: bool) -> None:
    assert topic_matches(pattern, key) is expected
    table = RouteTable([Route(pattern, "q")])
    assert table.queues_for(key) == (("q",) if expected else ())


@pytest.mark.parametrize(
    ("pattern", "key", "expected"), BEYOND_NAMING_RULE, ids=_ids(BEYOND_NAMING_RULE)
)
def test_beyond_naming_rule_still_routes_like_rabbitmq(
    pattern: str, key: str, expected: bool
) -> None:
    assert topic_matches(pattern, key) is expected
    table = RouteTable([Route(pattern, "q")])
    assert table.queues_for(key) == (("q",) if expected else ())


def test_match_table_stays_within_naming_rule() -> None:
    """The broker test proves the table, so the table must be made of valid names."""
    for pattern, key, _ in MATCH_TABLE:
        assert pattern_problem(pattern) is None, pattern
        if "*" not in key and "#" not in key:
            assert routing_key_problem(key) is None, key


# --- Validation -----------------------------------------------------------------------------

#: Refused by both pattern_problem and routing_key_problem, with a piece of the message.
INVALID_EITHER: list[tuple[str, str]] = [
    ("", "empty"),
    ("a..b", "empty word"),
    (".a", "empty word"),
    ("a.", "empty word"),
    (".", "empty word"),
    ("a b", "' '"),
    ("a:b", "':'"),
    ("a/b", "'/'"),
    ("a\x00", r"'\x00'"),
    ("a\n", r"'\n'"),
    ("a\tb", r"'\t'"),
    ("café", "'é'"),
    ("a" * 256, "256 bytes"),
    ("é" * 128, "256 bytes"),  # 128 characters, but 256 bytes in UTF-8
]

INVALID_PATTERNS = [
    *INVALID_EITHER,
    ("a*", "only work as whole words"),
    ("#b", "only work as whole words"),
    ("a.*b.c", "only work as whole words"),
    ("**", "only work as whole words"),
    ("*#", "only work as whole words"),
]

INVALID_KEYS = [
    *INVALID_EITHER,
    ("*", "wildcard"),
    ("#", "wildcard"),
    ("a.*", "wildcard"),
    ("a.#.b", "wildcard"),
    ("a.b#", "wildcard"),
]

VALID_EITHER = ["a", "a.b.c", "A-b_9.c", "order-created_v2", "0", "-", "a" * 255, "a." * 127 + "a"]
VALID_PATTERNS = [*VALID_EITHER, "*", "#", "a.*.b", "a.#", "#.#", "*.#.*", "#.a.#"]


@pytest.mark.parametrize(("pattern", "fragment"), INVALID_PATTERNS)
def test_invalid_patterns(pattern: str, fragment: str) -> None:
    message = pattern_problem(pattern)
    assert message is not None
    assert fragment in message
    assert message.endswith(".")
    assert "\n" not in message


@pytest.mark.parametrize(("key", "fragment"), INVALID_KEYS)
def test_invalid_routing_keys(key: str, fragment: str) -> None:
    message = routing_key_problem(key)
    assert message is not None
    assert fragment in message
    assert message.endswith(".")
    assert "\n" not in message


@pytest.mark.parametrize("pattern", VALID_PATTERNS)
def test_valid_patterns(pattern: str) -> None:
    assert pattern_problem(pattern) is None


@pytest.mark.parametrize("key", VALID_EITHER)
def test_valid_routing_keys(key: str) -> None:
    assert routing_key_problem(key) is None


def test_name_chars_is_the_word_rule() -> None:
    assert NAME_CHARS == "[A-Za-z0-9_-]+"


# --- RouteTable ----------------------------------------------------------------------------


def test_one_copy_per_queue_when_two_patterns_match() -> None:
    table = RouteTable([Route("a.#", "q"), Route("#.b", "q"), Route("a.b", "other")])
    assert table.queues_for("a.b") == ("other", "q")
    assert table.routes_for("a.b") == (
        Route("#.b", "q"),
        Route("a.#", "q"),
        Route("a.b", "other"),
    )
    assert table.queues_for("a.c") == ("q",)
    assert table.routes_for("a.c") == (Route("a.#", "q"),)


def test_unknown_key_reaches_nothing() -> None:
    table = RouteTable([Route("a.*", "q"), Route("b.#", "r")])
    assert table.queues_for("c.d") == ()
    assert table.routes_for("c.d") == ()
    assert RouteTable([]).queues_for("a") == ()


def test_length_counts_distinct_routes() -> None:
    """Binding the same pattern to the same queue twice is a no-op in RabbitMQ."""
    route = Route("a.#", "q")
    table = RouteTable(iter([route, route, Route("a.#", "r")]))
    assert len(table) == 2
    assert table.routes_for("a") == (route, Route("a.#", "r"))
    assert len(RouteTable([])) == 0


def test_tables_do_not_share_cached_answers() -> None:
    first = RouteTable([Route("a", "q1")])
    second = RouteTable([Route("a", "q2")])
    assert first.queues_for("a") == ("q1",)
    assert second.queues_for("a") == ("q2",)
    assert first.queues_for("a") == ("q1",)


def test_answers_stay_right_after_the_cache_fills() -> None:
    table = RouteTable([Route("k.*", "q"), Route("#.7", "r")])
    keys = [f"k.{i}" for i in range(5000)]
    for _ in range(2):
        for key in keys:
            expected = ("q", "r") if key.endswith(".7") else ("q",)
            assert table.queues_for(key) == expected


def test_route_table_is_immutable() -> None:
    table = RouteTable([Route("a", "q")])
    with pytest.raises(AttributeError):
        table._root = None
    with pytest.raises(AttributeError):
        table.extra = 1
    with pytest.raises(AttributeError):
        del table._size
    assert table.queues_for("a") == ("q",)


@contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """Fail instead of hanging if the code under test blows up exponentially."""
    if not hasattr(signal, "setitimer"):
        yield
        return

    def expired(signum: int, frame: Any) -> None:
        raise AssertionError(f"took more than {seconds}s: exponential matching?")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_many_hashes_do_not_blow_up() -> None:
    """Backtracking over 25 '#' would take astronomically long; the DP and the trie do not."""
    pattern = ".".join(["#", "a"] * 25) + ".b"
    key = ".".join(["a"] * 60)
    with _deadline(10):
        assert topic_matches(pattern, key) is False
        assert topic_matches(pattern, key + ".b") is True
        table = RouteTable([Route(pattern, "q")])
        assert table.queues_for(key) == ()
        assert table.queues_for(key + ".b") == ("q",)


# --- Properties ----------------------------------------------------------------------------

PATTERNS = st.lists(st.sampled_from(["a", "b", "*", "#"]), min_size=1, max_size=4).map(".".join)
KEYS = st.lists(st.sampled_from(["a", "b"]), min_size=1, max_size=5).map(".".join)
ROUTES = st.lists(st.builds(Route, PATTERNS, st.sampled_from(["q1", "q2", "q3"])), max_size=6)


def _backtracking(pattern: list[str], key: list[str]) -> bool:
    """An obviously-correct (and exponential) reference, fine for tiny inputs."""
    if not pattern:
        return not key
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_backtracking(rest, key[i:]) for i in range(len(key) + 1))
    return bool(key) and head in ("*", key[0]) and _backtracking(rest, key[1:])


@given(PATTERNS, KEYS)
def test_topic_matches_agrees_with_backtracking(pattern: str, key: str) -> None:
    assert topic_matches(pattern, key) is _backtracking(pattern.split("."), key.split("."))


@given(ROUTES, KEYS)
def test_route_table_agrees_with_topic_matches(routes: list[Route], key: str) -> None:
    table = RouteTable(routes)
    matching = {r for r in routes if topic_matches(r.pattern, key)}
    expected_routes = tuple(sorted(matching, key=lambda r: (r.pattern, r.queue)))
    expected_queues = tuple(sorted({r.queue for r in matching}))
    for _ in range(2):  # the second time from the cache
        assert table.routes_for(key) == expected_routes
        assert table.queues_for(key) == expected_queues
    assert len(table) == len(set(routes))


# --- Against RabbitMQ ----------------------------------------------------------------------


@contextmanager
def _topic_exchange(amqp_url: str, name: str) -> Iterator[Any]:
    """A confirming channel with a fresh auto-deleted topic exchange, deleted at the end."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        channel.exchange_declare(name, exchange_type="topic", auto_delete=True)
        try:
            channel.confirm_delivery()
            yield channel
        finally:
            channel.exchange_delete(name)
    finally:
        connection.close()


def _server_named_queue(channel: Any, exchange: str, patterns: list[str]) -> str:
    queue: str = channel.queue_declare("", exclusive=True).method.queue
    for pattern in patterns:
        channel.queue_bind(queue, exchange, routing_key=pattern)
    return queue


def _drain(channel: Any, queue: str) -> list[str]:
    """Every message body in ``queue``; after confirms, the broker has already routed them."""
    bodies: list[str] = []
    while True:
        method, _, body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            return bodies
        bodies.append(body.decode())


@pytest.mark.broker
@pytest.mark.parametrize(
    "table", [MATCH_TABLE, BEYOND_NAMING_RULE], ids=["naming-rule", "beyond-naming-rule"]
)
def test_topic_matches_agrees_with_rabbitmq(
    amqp_url: str, unique_name: str, table: list[tuple[str, str, bool]]
) -> None:
    patterns = sorted({p for p, _, _ in table})
    keys = sorted({k for _, k, _ in table})
    received: list[tuple[str, str]] = []
    with _topic_exchange(amqp_url, unique_name) as channel:
        queues = {p: _server_named_queue(channel, unique_name, [p]) for p in patterns}
        for key in keys:
            channel.basic_publish(unique_name, key, key.encode(), mandatory=False)
        for pattern, queue in queues.items():
            received.extend((pattern, key) for key in _drain(channel, queue))

    assert len(received) == len(set(received)), "a key reached one queue twice"
    expected = {(p, k) for p in patterns for k in keys if topic_matches(p, k)}
    assert set(received) == expected
    for pattern, key, matches in table:
        assert ((pattern, key) in expected) is matches


@pytest.mark.broker
def test_route_table_agrees_with_rabbitmq(amqp_url: str, unique_name: str) -> None:
    """Queues bound by several patterns get one copy per message, as queues_for says."""
    routes = [
        Route("a.#", "q1"),
        Route("#.b", "q1"),
        Route("*.b", "q2"),
        Route("a.b", "q2"),
        Route("#", "q3"),
        Route("a.*.c", "q4"),
        Route("#.c", "q4"),
    ]
    keys = ["a", "b", "a.b", "x.b", "a.x.c", "a.b.c", "c", "x.y"]
    table = RouteTable(routes)
    received: Counter[tuple[str, str]] = Counter()
    with _topic_exchange(amqp_url, unique_name) as channel:
        queues = {
            name: _server_named_queue(
                channel, unique_name, [r.pattern for r in routes if r.queue == name]
            )
            for name in sorted({r.queue for r in routes})
        }
        for key in keys:
            channel.basic_publish(unique_name, key, key.encode(), mandatory=False)
        for name, queue in queues.items():
            received.update((name, key) for key in _drain(channel, queue))

    assert set(received.values()) == {1}, "a queue got more than one copy"
    assert set(received) == {(q, k) for k in keys for q in table.queues_for(k)}
    assert received[("q1", "a.b")] == 1  # matched by both of q1's patterns
