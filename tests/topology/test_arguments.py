"""Queue-argument checks: unit tables, then the same cases against a real RabbitMQ 3.10.

The broker tests keep the table in ``mqwire.topology.argument_specs`` honest: what the checks
accept, RabbitMQ declares; what they refuse because RabbitMQ refuses it, RabbitMQ refuses too; and
where the checks are stricter than the broker, a test asserts the broker accepts, so the reason
for the stricter rule stays visible.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pika
import pika.exceptions
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mqwire.testing import wait_until
from mqwire.topology.argument_checks import ArgumentProblem, check_arguments, check_queue_flags
from mqwire.topology.argument_specs import (
    AMQP_INT_MAX,
    KNOWN_ARGUMENTS,
    QUEUE_TYPES,
    queue_type_of,
)

#: RabbitMQ's largest x-message-ttl / x-expires (ten years in milliseconds).
MAX_EXPIRY_MS = 315_360_000_000


@dataclass(frozen=True)
class Flags:
    """A queue's declaration flags, as in the topology file."""

    durable: bool = True
    exclusive: bool = False
    auto_delete: bool = False


DURABLE = Flags()


def all_problems(flags: Flags, arguments: Mapping[str, object]) -> list[ArgumentProblem]:
    """What the compiler would report for one queue: its arguments, then its flags."""
    return check_arguments(arguments) + check_queue_flags(
        durable=flags.durable,
        exclusive=flags.exclusive,
        auto_delete=flags.auto_delete,
        arguments=arguments,
    )


# --- The table: a valid value per argument and the queue types RabbitMQ 3.10 accepts it on.

#: Verified both ways by test_broker_applicability_matches_table.
APPLICABILITY: dict[str, tuple[object, frozenset[str]]] = {
    "x-max-priority": (10, frozenset({"classic"})),
    "x-message-ttl": (60_000, frozenset({"classic", "quorum"})),
    "x-expires": (60_000, frozenset({"classic", "quorum"})),
    "x-max-length": (100, frozenset({"classic", "quorum"})),
    "x-max-length-bytes": (1_000_000, frozenset({"classic", "quorum", "stream"})),
    "x-overflow": ("reject-publish", frozenset({"classic", "quorum"})),
    "x-dead-letter-exchange": ("mqwire-test.dlx", frozenset({"classic", "quorum"})),
    "x-dead-letter-routing-key": ("dead", frozenset({"classic", "quorum"})),
    "x-delivery-limit": (5, frozenset({"quorum"})),
    "x-single-active-consumer": (True, frozenset({"classic", "quorum"})),
    "x-dead-letter-strategy": ("at-most-once", frozenset({"quorum"})),
    "x-queue-mode": ("lazy", frozenset({"classic"})),
    "x-queue-version": (2, frozenset({"classic"})),
    "x-quorum-initial-group-size": (1, frozenset({"quorum"})),
    "x-initial-cluster-size": (1, frozenset({"stream"})),
    "x-max-age": ("7D", frozenset({"stream"})),
    "x-stream-max-segment-size-bytes": (1_000_000, frozenset({"stream"})),
    "x-queue-leader-locator": ("balanced", frozenset({"quorum", "stream"})),
}

#: Dead-lettering through the default exchange: it needs the queue to send them to.
DEFAULT_EXCHANGE_DLX: dict[str, object] = {
    "x-dead-letter-exchange": "",
    "x-dead-letter-routing-key": "dead",
}

#: Arguments another one must accompany to be valid on its own.
COMPANIONS: dict[str, dict[str, object]] = {
    "x-dead-letter-routing-key": {"x-dead-letter-exchange": ""},
    "x-dead-letter-strategy": DEFAULT_EXCHANGE_DLX,
    "x-delivery-limit": DEFAULT_EXCHANGE_DLX,
}


def single_argument(key: str, queue_type: str) -> dict[str, object]:
    """``key`` with its valid value on ``queue_type``, plus what it needs where it applies."""
    value, types = APPLICABILITY[key]
    arguments: dict[str, object] = {"x-queue-type": queue_type, key: value}
    if queue_type in types:
        arguments.update(COMPANIONS.get(key, {}))
    return arguments


APPLICABILITY_CASES = [
    pytest.param(key, queue_type, queue_type in types, id=f"{queue_type}-{key}")
    for key, (_, types) in APPLICABILITY.items()
    for queue_type in QUEUE_TYPES
]


def test_applicability_table_covers_every_known_argument() -> None:
    assert set(APPLICABILITY) | {"x-queue-type"} == set(KNOWN_ARGUMENTS)


@pytest.mark.parametrize(("key", "queue_type", "accepted"), APPLICABILITY_CASES)
def test_applicability(key: str, queue_type: str, accepted: bool) -> None:
    problems = all_problems(DURABLE, single_argument(key, queue_type))
    if accepted:
        assert problems == []
    else:
        assert [(p.key, p.message) for p in problems] == [
            (key, f"{key!r} is not supported by {queue_type} queues")
        ]
        assert problems[0].hint is not None
        assert "only" in problems[0].hint


# --- Argument sets the checks accept (and RabbitMQ declares: test_broker_declares_accepted).

ACCEPTED = [
    pytest.param(DURABLE, {}, id="classic-default"),
    pytest.param(
        Flags(durable=False, exclusive=True, auto_delete=True),
        {"x-queue-type": "classic"},
        id="classic-transient",
    ),
    pytest.param(
        DURABLE,
        {
            "x-queue-type": "classic",
            "x-max-priority": 10,
            "x-message-ttl": 60_000,
            "x-expires": 3_600_000,
            "x-max-length": 1000,
            "x-max-length-bytes": 1_048_576,
            "x-overflow": "reject-publish-dlx",
            "x-dead-letter-exchange": "mqwire-test.dlx",
            "x-dead-letter-routing-key": "dead",
            "x-single-active-consumer": True,
            "x-queue-mode": "lazy",
            "x-queue-version": 2,
        },
        id="classic-all",
    ),
    pytest.param(
        DURABLE,
        {
            "x-max-priority": 1,
            "x-message-ttl": 0,
            "x-expires": 1,
            "x-max-length": 0,
            "x-max-length-bytes": 0,
            "x-overflow": "drop-head",
            **DEFAULT_EXCHANGE_DLX,
            "x-single-active-consumer": False,
            "x-queue-mode": "default",
            "x-queue-version": 1,
        },
        id="classic-lower-bounds",
    ),
    pytest.param(
        DURABLE,
        {
            "x-max-priority": 255,
            "x-message-ttl": MAX_EXPIRY_MS,
            "x-expires": MAX_EXPIRY_MS,
            "x-max-length": AMQP_INT_MAX,
            "x-max-length-bytes": AMQP_INT_MAX,
            "x-overflow": "reject-publish",
        },
        id="classic-upper-bounds",
    ),
    pytest.param(
        DURABLE,
        {
            "x-queue-type": "quorum",
            "x-message-ttl": 60_000,
            "x-expires": 3_600_000,
            "x-max-length": 1000,
            "x-max-length-bytes": 1_048_576,
            "x-overflow": "reject-publish",
            "x-dead-letter-exchange": "mqwire-test.dlx",
            "x-dead-letter-routing-key": "dead",
            "x-dead-letter-strategy": "at-least-once",
            "x-delivery-limit": 5,
            "x-single-active-consumer": True,
            "x-quorum-initial-group-size": 3,
            "x-queue-leader-locator": "balanced",
        },
        id="quorum-all",
    ),
    pytest.param(
        DURABLE,
        {
            "x-queue-type": "quorum",
            "x-overflow": "drop-head",
            **DEFAULT_EXCHANGE_DLX,
            "x-dead-letter-strategy": "at-most-once",
            "x-delivery-limit": 0,
            "x-queue-leader-locator": "client-local",
        },
        id="quorum-at-most-once",
    ),
    pytest.param(
        DURABLE,
        {
            "x-queue-type": "stream",
            "x-max-age": "7D",
            "x-max-length-bytes": 1_000_000_000,
            "x-stream-max-segment-size-bytes": 3_000_000_000,
            "x-initial-cluster-size": 1,
            "x-queue-leader-locator": "balanced",
        },
        id="stream-all",
    ),
    pytest.param(
        DURABLE,
        {
            "x-queue-type": "stream",
            "x-stream-max-segment-size-bytes": 1,
            "x-queue-leader-locator": "client-local",
        },
        id="stream-lower-bounds",
    ),
    *[
        pytest.param(DURABLE, {"x-queue-type": "stream", "x-max-age": age}, id=f"max-age-{age}")
        for age in ("1Y", "2M", "1D", "12h", "90m", "45s", "01h")
    ],
]


def test_accepted_cases_cover_every_argument_and_queue_type() -> None:
    arguments: list[Mapping[str, object]] = [p.values[1] for p in ACCEPTED]
    assert set().union(*arguments) == set(KNOWN_ARGUMENTS)
    assert {queue_type_of(a) for a in arguments} == set(QUEUE_TYPES)


@pytest.mark.parametrize(("flags", "arguments"), ACCEPTED)
def test_accepted(flags: Flags, arguments: Mapping[str, object]) -> None:
    assert all_problems(flags, arguments) == []


# --- Bad values, one kind at a time: (arguments, key, substrings of the message).

BAD_VALUES = [
    pytest.param(
        {"x-max-priority": "ten"},
        "x-max-priority",
        ["'x-max-priority' must be an integer from 1 to 255, not 'ten'"],
        id="int-given-word",
    ),
    pytest.param({"x-max-priority": 0}, "x-max-priority", ["from 1 to 255", "not 0"], id="below"),
    pytest.param({"x-max-priority": 256}, "x-max-priority", ["not 256"], id="above"),
    pytest.param({"x-max-priority": 10.0}, "x-max-priority", ["not 10.0"], id="int-given-float"),
    pytest.param({"x-max-priority": None}, "x-max-priority", ["not None"], id="int-given-null"),
    pytest.param({"x-message-ttl": -1}, "x-message-ttl", ["from 0 to 315360000000"], id="ttl"),
    pytest.param(
        {"x-expires": MAX_EXPIRY_MS + 1}, "x-expires", ["from 1 to 315360000000"], id="expires"
    ),
    pytest.param({"x-max-length": -5}, "x-max-length", ["an integer >= 0, not -5"], id="min"),
    pytest.param(
        {"x-max-length-bytes": AMQP_INT_MAX + 1}, "x-max-length-bytes", [">= 0"], id="int64"
    ),
    pytest.param(
        {"x-overflow": "drop-tail"},
        "x-overflow",
        ["one of 'drop-head', 'reject-publish', 'reject-publish-dlx', not 'drop-tail'"],
        id="enum",
    ),
    pytest.param({"x-overflow": 1}, "x-overflow", ["not 1"], id="enum-given-int"),
    pytest.param(
        {"x-dead-letter-exchange": 5}, "x-dead-letter-exchange", ["a string, not 5"], id="str"
    ),
    pytest.param(
        {"x-queue-type": "qorum"},
        "x-queue-type",
        ["one of 'classic', 'quorum', 'stream', not 'qorum'"],
        id="queue-type",
    ),
    pytest.param(
        {"x-single-active-consumer": "yes"},
        "x-single-active-consumer",
        ["must be true or false, not 'yes'"],
        id="bool-given-word",
    ),
    pytest.param({"x-queue-mode": "lazzy"}, "x-queue-mode", ["'default', 'lazy'"], id="mode"),
    pytest.param({"x-queue-version": 3}, "x-queue-version", ["from 1 to 2"], id="version"),
    pytest.param(
        {"x-queue-type": "quorum", "x-delivery-limit": -1},
        "x-delivery-limit",
        [">= 0, not -1"],
        id="delivery-limit",
    ),
    pytest.param(
        {"x-queue-type": "quorum", "x-dead-letter-strategy": "at-least"},
        "x-dead-letter-strategy",
        ["'at-most-once', 'at-least-once', not 'at-least'"],
        id="strategy",
    ),
    pytest.param(
        {"x-queue-type": "quorum", "x-quorum-initial-group-size": 0},
        "x-quorum-initial-group-size",
        [">= 1, not 0"],
        id="group-size",
    ),
    pytest.param(
        {"x-queue-type": "stream", "x-stream-max-segment-size-bytes": 3_000_000_001},
        "x-stream-max-segment-size-bytes",
        ["from 1 to 3000000000"],
        id="segment-size",
    ),
    pytest.param(
        {"x-queue-type": "stream", "x-queue-leader-locator": "random"},
        "x-queue-leader-locator",
        ["'client-local', 'balanced', not 'random'"],
        id="locator",
    ),
    *[
        pytest.param(
            {"x-queue-type": "stream", "x-max-age": age},
            "x-max-age",
            ["'x-max-age' must be a positive whole number and one unit", f"not {age!r}"],
            id=f"max-age-{age!r}",
        )
        for age in ("7d", "0s", "00h", "1h30m", "1.5h", "h", "7", " 1h", "1h ", "-1h", "1w", 3600)
    ],
    pytest.param(
        {"x-queue-type": "quorum", "x-overflow": "reject-publish-dlx"},
        "x-overflow",
        ["'x-overflow' value 'reject-publish-dlx' is not supported by quorum queues"],
        id="value-not-for-type",
    ),
]


@pytest.mark.parametrize(("arguments", "key", "substrings"), BAD_VALUES)
def test_bad_value(arguments: dict[str, object], key: str, substrings: list[str]) -> None:
    problems = check_arguments(arguments)
    assert [p.key for p in problems] == [key]
    for substring in substrings:
        assert substring in problems[0].message


@pytest.mark.parametrize(
    ("arguments", "hint"),
    [
        pytest.param({"x-max-priority": "10"}, "write 10 without quotes", id="quoted-int"),
        pytest.param({"x-max-priority": True}, "boolean", id="bool-for-int"),
        pytest.param(
            {"x-single-active-consumer": "true"}, "write true without quotes", id="quoted-bool"
        ),
        pytest.param({"x-single-active-consumer": 1}, "true or false", id="int-for-bool"),
        pytest.param({"x-queue-type": "Quorum"}, "did you mean 'quorum'?", id="enum-case"),
        pytest.param({"x-queue-mode": "lazzy"}, "did you mean 'lazy'?", id="enum-typo"),
        pytest.param({"x-queue-type": "stream", "x-max-age": "7d"}, "case-sensitive", id="max-age"),
        pytest.param({"x-max-length": AMQP_INT_MAX + 1}, str(AMQP_INT_MAX), id="int64"),
        pytest.param(
            {"x-queue-type": "quorum", "x-overflow": "reject-publish-dlx"},
            "uses drop-head",
            id="quorum-reject-publish-dlx",
        ),
    ],
)
def test_value_hint(arguments: dict[str, object], hint: str) -> None:
    (problem,) = check_arguments(arguments)
    assert problem.hint is not None
    assert hint in problem.hint


def test_no_hint_when_no_likely_slip() -> None:
    (problem,) = check_arguments({"x-max-priority": "ten"})
    assert problem.hint is None


def test_every_problem_is_reported_in_order() -> None:
    arguments = {
        "maxPriority": 1,
        "x-max-priority": "ten",
        "x-message-ttl": 1000,
        "x-queue-mode": "lazzy",
        "x-delivery-limit": 3,
    }
    problems = check_arguments(arguments)
    assert [p.key for p in problems] == [
        "maxPriority",
        "x-max-priority",
        "x-queue-mode",
        "x-delivery-limit",
    ]
    assert "classic queues" in problems[-1].message


def test_bad_queue_type_is_the_only_problem_reported() -> None:
    """With the queue type unknown, no argument can be judged against it."""
    problems = check_arguments({"x-queue-type": "qorum", "x-max-priority": 5, "x-max-age": "7D"})
    assert [p.key for p in problems] == ["x-queue-type"]


def test_wrong_queue_type_wins_over_bad_value() -> None:
    """Removing the argument is the fix, so its value is not discussed."""
    (problem,) = check_arguments({"x-queue-type": "quorum", "x-max-priority": "ten"})
    assert problem.message == "'x-max-priority' is not supported by quorum queues"
    assert problem.hint == "it applies to classic queues only"


def test_accepts_a_read_only_mapping() -> None:
    from mqwire.topology.model import frozen_mapping

    assert check_arguments(frozen_mapping({"x-max-priority": 10})) == []
    assert check_arguments(frozen_mapping({"x-max-priority": 0}))[0].key == "x-max-priority"


# --- Suggestions for unknown names.


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("maxPriority", "x-max-priority"),
        ("x-max-prority", "x-max-priority"),
        ("messageTTL", "x-message-ttl"),
        ("x_queue_type", "x-queue-type"),
        ("X-Max-Priority", "x-max-priority"),
        ("xMaxPriority", "x-max-priority"),
        ("deadLetterExchange", "x-dead-letter-exchange"),
        ("x-expire", "x-expires"),
        ("single_active_consumer", "x-single-active-consumer"),
        ("zzz", None),
        ("x-foo", None),
    ],
)
def test_unknown_argument_suggestion(name: str, suggestion: str | None) -> None:
    problems = check_arguments({name: 1})
    hint = None if suggestion is None else f"did you mean {suggestion!r}?"
    assert problems == [ArgumentProblem(name, f"unknown queue argument {name!r}", hint)]


# --- bool is a subclass of int in Python; neither may stand in for the other.

INT_ARGUMENTS = sorted(k for k, s in KNOWN_ARGUMENTS.items() if s.kind == "int")
BOOL_ARGUMENTS = sorted(k for k, s in KNOWN_ARGUMENTS.items() if s.kind == "bool")


def test_kinds_are_as_documented() -> None:
    assert set(INT_ARGUMENTS) == {
        "x-max-priority",
        "x-message-ttl",
        "x-expires",
        "x-max-length",
        "x-max-length-bytes",
        "x-delivery-limit",
        "x-queue-version",
        "x-quorum-initial-group-size",
        "x-initial-cluster-size",
        "x-stream-max-segment-size-bytes",
    }
    assert set(BOOL_ARGUMENTS) == {"x-single-active-consumer"}


def _on_its_queue_type(key: str, value: object) -> dict[str, object]:
    queue_type = next(t for t in QUEUE_TYPES if t in KNOWN_ARGUMENTS[key].queue_types)
    return {"x-queue-type": queue_type, key: value}


@pytest.mark.parametrize("key", INT_ARGUMENTS)
@pytest.mark.parametrize("value", [True, False])
def test_bool_is_not_an_integer(key: str, value: bool) -> None:
    (problem,) = check_arguments(_on_its_queue_type(key, value))
    assert problem.key == key
    assert "must be an integer" in problem.message
    assert problem.message.endswith(f"not {value!r}")
    # The same argument with a plain integer is fine: the bool is what was refused.
    assert check_arguments(_on_its_queue_type(key, 1)) == []


@pytest.mark.parametrize("key", BOOL_ARGUMENTS)
@pytest.mark.parametrize("value", [1, 0, "true"])
def test_integer_is_not_a_bool(key: str, value: object) -> None:
    (problem,) = check_arguments(_on_its_queue_type(key, value))
    assert problem.key == key
    assert problem.message == f"{key!r} must be true or false, not {value!r}"
    assert check_arguments(_on_its_queue_type(key, True)) == []
    assert check_arguments(_on_its_queue_type(key, False)) == []


# --- check_queue_flags.


@pytest.mark.parametrize("durable", [True, False])
@pytest.mark.parametrize("exclusive", [True, False])
@pytest.mark.parametrize("auto_delete", [True, False])
def test_classic_queue_takes_any_flags(durable: bool, exclusive: bool, auto_delete: bool) -> None:
    for arguments in ({}, {"x-queue-type": "classic"}):
        assert (
            check_queue_flags(
                durable=durable, exclusive=exclusive, auto_delete=auto_delete, arguments=arguments
            )
            == []
        )


@pytest.mark.parametrize("queue_type", ["quorum", "stream"])
@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (Flags(durable=False), "{} queues must be durable"),
        (Flags(exclusive=True), "{} queues cannot be exclusive"),
        (Flags(auto_delete=True), "{} queues cannot be auto-delete"),
    ],
)
def test_replicated_queue_flags(queue_type: str, flags: Flags, message: str) -> None:
    (problem,) = all_problems(flags, {"x-queue-type": queue_type})
    assert problem.key is None
    assert problem.message == message.format(queue_type)
    assert problem.hint is not None
    assert "RabbitMQ refuses" in problem.hint


@pytest.mark.parametrize("queue_type", ["quorum", "stream"])
def test_replicated_queue_all_bad_flags_reported(queue_type: str) -> None:
    flags = Flags(durable=False, exclusive=True, auto_delete=True)
    problems = all_problems(flags, {"x-queue-type": queue_type})
    assert len(problems) == 3
    assert {p.key for p in problems} == {None}


def test_at_least_once_needs_reject_publish() -> None:
    base = {
        "x-queue-type": "quorum",
        "x-dead-letter-exchange": "dlx",
        "x-dead-letter-strategy": "at-least-once",
    }
    for overflow in (None, "drop-head"):
        arguments = base if overflow is None else {**base, "x-overflow": overflow}
        (problem,) = all_problems(DURABLE, arguments)
        assert problem.key == "x-dead-letter-strategy"
        assert "x-overflow: reject-publish" in problem.message
        assert problem.hint is not None
        assert "at-most-once" in problem.hint
    assert all_problems(DURABLE, {**base, "x-overflow": "reject-publish"}) == []


def test_delivery_limit_needs_a_dead_letter_target() -> None:
    """Past the limit RabbitMQ dead-letters the message, or drops it when there is no target."""
    arguments = {"x-queue-type": "quorum", "x-delivery-limit": 3}
    (problem,) = all_problems(DURABLE, arguments)
    assert problem.key == "x-delivery-limit"
    assert "drops every message past the limit" in problem.message
    assert problem.hint is not None
    assert "x-dead-letter-exchange: ''" in problem.hint
    assert all_problems(DURABLE, {**arguments, **DEFAULT_EXCHANGE_DLX}) == []


@pytest.mark.parametrize("strategy", ["at-most-once", "at-least-once"])
def test_dead_letter_strategy_needs_exchange(strategy: str) -> None:
    arguments = {
        "x-queue-type": "quorum",
        "x-dead-letter-strategy": strategy,
        "x-overflow": "reject-publish",
    }
    (problem,) = all_problems(DURABLE, arguments)
    assert problem.key == "x-dead-letter-strategy"
    assert "without 'x-dead-letter-exchange'" in problem.message
    assert problem.hint is not None
    assert "x-dead-letter-exchange" in problem.hint
    # The default exchange ("") is an exchange.
    assert all_problems(DURABLE, {**arguments, **DEFAULT_EXCHANGE_DLX}) == []


@pytest.mark.parametrize("queue_type", ["classic", "quorum"])
def test_dead_letter_routing_key_needs_exchange(queue_type: str) -> None:
    arguments = {"x-queue-type": queue_type, "x-dead-letter-routing-key": "dead"}
    (problem,) = all_problems(DURABLE, arguments)
    assert problem.key == "x-dead-letter-routing-key"
    assert problem.message == "'x-dead-letter-routing-key' needs 'x-dead-letter-exchange'"
    assert all_problems(DURABLE, {**arguments, "x-dead-letter-exchange": ""}) == []


@pytest.mark.parametrize("queue_type", ["classic", "quorum"])
def test_the_default_exchange_needs_a_dead_letter_routing_key(queue_type: str) -> None:
    """Without one, dead letters keep their original routing key, which names no queue."""
    arguments = {"x-queue-type": queue_type, "x-dead-letter-exchange": ""}
    (problem,) = all_problems(DURABLE, arguments)
    assert problem.key == "x-dead-letter-exchange"
    assert "without 'x-dead-letter-routing-key'" in problem.message
    assert problem.hint is not None
    assert "add x-dead-letter-routing-key" in problem.hint
    assert all_problems(DURABLE, {**arguments, "x-dead-letter-routing-key": "dead"}) == []
    # An exchange of one's own routes the original key by its bindings, as intended.
    assert all_problems(DURABLE, {**arguments, "x-dead-letter-exchange": "dlx"}) == []


@pytest.mark.parametrize(
    "arguments",
    [
        {"x-queue-type": "classic", "x-dead-letter-strategy": "at-least-once"},
        {"x-queue-type": "stream", "x-dead-letter-routing-key": "dead"},
        {"x-queue-type": "stream", "x-dead-letter-exchange": ""},
    ],
)
def test_flags_do_not_repeat_a_wrong_queue_type_problem(arguments: dict[str, object]) -> None:
    assert (
        check_queue_flags(durable=True, exclusive=False, auto_delete=False, arguments=arguments)
        == []
    )
    assert len(check_arguments(arguments)) == 1


def test_flags_need_a_known_queue_type() -> None:
    """A misspelt x-queue-type is check_arguments' to report; flags cannot be judged."""
    arguments = {"x-queue-type": "qorum"}
    assert (
        check_queue_flags(durable=False, exclusive=True, auto_delete=True, arguments=arguments)
        == []
    )
    assert [p.key for p in check_arguments(arguments)] == ["x-queue-type"]


_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=12)
)
_KEYS = st.one_of(st.sampled_from(sorted(KNOWN_ARGUMENTS)), st.text(max_size=20))


@given(st.dictionaries(_KEYS, _VALUES, max_size=8), st.booleans(), st.booleans(), st.booleans())
def test_any_input_gives_at_most_one_problem_per_entry(
    arguments: dict[str, Any], durable: bool, exclusive: bool, auto_delete: bool
) -> None:
    problems = check_arguments(arguments)
    keys = [p.key for p in problems]
    assert len(keys) == len(set(keys))
    assert set(keys) <= set(arguments)
    if not problems:
        assert set(arguments) <= set(KNOWN_ARGUMENTS)
    flag_problems = check_queue_flags(
        durable=durable, exclusive=exclusive, auto_delete=auto_delete, arguments=arguments
    )
    assert {p.key for p in flag_problems} <= set(arguments) | {None}


# --- Against the real broker.


@pytest.fixture
def connection(amqp_url: str) -> Iterator[pika.BlockingConnection]:
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        yield conn
    finally:
        if conn.is_open:
            conn.close()


def declare(
    conn: pika.BlockingConnection, name: str, flags: Flags, arguments: Mapping[str, object]
) -> None:
    """Declare on a channel of its own: a refusal closes the channel, not the connection."""
    channel = conn.channel()
    channel.queue_declare(
        name,
        durable=flags.durable,
        exclusive=flags.exclusive,
        auto_delete=flags.auto_delete,
        arguments=dict(arguments),
    )
    channel.close()


def delete(conn: pika.BlockingConnection, name: str) -> None:
    """Delete ``name``; deleting a queue that does not exist is not an error in RabbitMQ."""
    channel = conn.channel()
    channel.queue_delete(name)
    channel.close()


def refusal(
    conn: pika.BlockingConnection, name: str, flags: Flags, arguments: Mapping[str, object]
) -> pika.exceptions.ChannelClosedByBroker:
    """The broker's refusal to declare; fails the test (and deletes the queue) if it accepts."""
    try:
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as info:
            declare(conn, name, flags, arguments)
    finally:
        delete(conn, name)
    return info.value


@pytest.mark.broker
@pytest.mark.parametrize(("flags", "arguments"), ACCEPTED)
def test_broker_declares_accepted(
    connection: pika.BlockingConnection,
    unique_name: str,
    flags: Flags,
    arguments: Mapping[str, object],
) -> None:
    assert all_problems(flags, arguments) == []
    try:
        declare(connection, unique_name, flags, arguments)
    finally:
        delete(connection, unique_name)


@pytest.mark.broker
@pytest.mark.parametrize(("key", "queue_type", "accepted"), APPLICABILITY_CASES)
def test_broker_applicability_matches_table(
    connection: pika.BlockingConnection,
    unique_name: str,
    key: str,
    queue_type: str,
    accepted: bool,
) -> None:
    arguments = single_argument(key, queue_type)
    assert (all_problems(DURABLE, arguments) == []) is accepted
    if accepted:
        try:
            declare(connection, unique_name, DURABLE, arguments)
        finally:
            delete(connection, unique_name)
    else:
        error = refusal(connection, unique_name, DURABLE, arguments)
        assert error.reply_code == 406
        assert f"invalid arg '{key}'" in error.reply_text


def _refused(
    flags: Flags, arguments: dict[str, object], key: str | None, broker_says: str, case_id: str
) -> Any:
    return pytest.param(flags, arguments, key, broker_says, id=case_id)


#: Refused here because RabbitMQ refuses them: (flags, arguments, our key, broker reply text).
REFUSED_BY_BOTH = [
    *[
        _refused(flags, {"x-queue-type": queue_type}, None, f"invalid property '{prop}'", name)
        for queue_type in ("quorum", "stream")
        for flags, prop, name in [
            (Flags(exclusive=True), "exclusive-owner", f"{queue_type}-exclusive"),
            (Flags(durable=False), "non-durable", f"{queue_type}-non-durable"),
            (Flags(auto_delete=True), "auto-delete", f"{queue_type}-auto-delete"),
        ]
    ],
    _refused(
        DURABLE,
        {"x-dead-letter-routing-key": "dead"},
        "x-dead-letter-routing-key",
        "routing_key_but_no_dlx_defined",
        "routing-key-without-exchange",
    ),
    *[
        _refused(DURABLE, {"x-queue-type": queue_type, key: value}, key, key, f"{key}={value!r}")
        for queue_type, key, value in [
            ("classic", "x-max-priority", "ten"),
            ("classic", "x-max-priority", True),
            ("classic", "x-max-priority", -1),
            ("classic", "x-max-priority", 256),
            ("classic", "x-message-ttl", -1),
            ("classic", "x-message-ttl", "1000"),
            ("quorum", "x-message-ttl", MAX_EXPIRY_MS + 1),
            ("classic", "x-expires", 0),
            ("classic", "x-expires", MAX_EXPIRY_MS + 1),
            ("classic", "x-max-length", -1),
            ("stream", "x-max-length-bytes", -1),
            ("classic", "x-overflow", "drop-tail"),
            ("quorum", "x-overflow", 1),
            ("classic", "x-dead-letter-exchange", 5),
            ("classic", "x-queue-type", "qorum"),
            ("classic", "x-queue-type", "Quorum"),
            ("classic", "x-queue-type", 1),
            ("classic", "x-single-active-consumer", 1),
            ("quorum", "x-single-active-consumer", "true"),
            ("quorum", "x-dead-letter-strategy", "at-least"),
            ("quorum", "x-dead-letter-strategy", 1),
            ("classic", "x-queue-mode", "lazzy"),
            ("classic", "x-queue-version", 3),
            ("classic", "x-queue-version", "2"),
            ("quorum", "x-quorum-initial-group-size", 0),
            ("stream", "x-initial-cluster-size", 0),
            ("stream", "x-max-age", "7d"),
            ("stream", "x-max-age", "0s"),
            ("stream", "x-max-age", "1h30m"),
            ("stream", "x-max-age", "1.5h"),
            ("stream", "x-max-age", 3600),
            ("stream", "x-stream-max-segment-size-bytes", -1),
            ("stream", "x-stream-max-segment-size-bytes", 3_000_000_001),
            ("stream", "x-queue-leader-locator", "nope"),
            ("quorum", "x-queue-leader-locator", 1),
        ]
    ],
    _refused(
        DURABLE,
        {"x-dead-letter-exchange": "dlx", "x-dead-letter-routing-key": 5},
        "x-dead-letter-routing-key",
        "x-dead-letter-routing-key",
        "routing-key-not-a-string",
    ),
]


@pytest.mark.broker
@pytest.mark.parametrize(("flags", "arguments", "key", "broker_says"), REFUSED_BY_BOTH)
def test_broker_refuses_what_we_refuse(
    connection: pika.BlockingConnection,
    unique_name: str,
    flags: Flags,
    arguments: dict[str, object],
    key: str | None,
    broker_says: str,
) -> None:
    assert key in [p.key for p in all_problems(flags, arguments)]
    error = refusal(connection, unique_name, flags, arguments)
    assert error.reply_code == 406
    assert broker_says in error.reply_text


@pytest.mark.broker
@pytest.mark.parametrize("age", [" 1h", "h", "-1h"])
def test_broker_drops_the_connection_on_unparsable_max_age(
    amqp_url: str, unique_name: str, age: str
) -> None:
    """RabbitMQ 3.10 crashes the connection (541) here, not just the channel: refuse it early."""
    arguments = {"x-queue-type": "stream", "x-max-age": age}
    assert [p.key for p in check_arguments(arguments)] == ["x-max-age"]
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        with pytest.raises(pika.exceptions.ConnectionClosedByBroker) as info:
            declare(conn, unique_name, DURABLE, arguments)
        assert info.value.reply_code == 541
    finally:
        if conn.is_open:
            delete(conn, unique_name)
            conn.close()
    assert not conn.is_open


#: Accepted by RabbitMQ 3.10 but refused here: (flags, arguments, our key), id says why.
STRICTER_THAN_BROKER = [
    pytest.param(
        DURABLE,
        {"x-max-priority": 0},
        "x-max-priority",
        id="priority-0-declares-no-priorities",
    ),
    pytest.param(
        DURABLE,
        {"x-queue-type": "quorum", "x-overflow": "reject-publish-dlx"},
        "x-overflow",
        id="quorum-reject-publish-dlx-acts-as-drop-head",
    ),
    pytest.param(
        DURABLE,
        {
            "x-queue-type": "quorum",
            "x-dead-letter-exchange": "dlx",
            "x-dead-letter-strategy": "at-least-once",
        },
        "x-dead-letter-strategy",
        id="at-least-once-without-reject-publish-falls-back",
    ),
    pytest.param(
        DURABLE,
        {
            "x-queue-type": "quorum",
            "x-dead-letter-exchange": "dlx",
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "drop-head",
        },
        "x-dead-letter-strategy",
        id="at-least-once-with-drop-head-falls-back",
    ),
    pytest.param(
        DURABLE,
        {"x-queue-type": "quorum", "x-dead-letter-strategy": "at-most-once"},
        "x-dead-letter-strategy",
        id="strategy-without-exchange-disables-dead-lettering",
    ),
    pytest.param(
        DURABLE,
        {"x-queue-type": "quorum", "x-delivery-limit": 3},
        "x-delivery-limit",
        id="delivery-limit-without-target-drops",
    ),
    *[
        pytest.param(
            DURABLE,
            {"x-queue-type": queue_type, "x-dead-letter-exchange": ""},
            "x-dead-letter-exchange",
            id=f"default-exchange-without-routing-key-{queue_type}",
        )
        for queue_type in ("classic", "quorum")
    ],
    *[
        pytest.param(
            DURABLE,
            {"x-queue-type": "quorum", "x-delivery-limit": value},
            "x-delivery-limit",
            id=f"delivery-limit-unchecked-{value!r}",
        )
        for value in (-1, "5", True)
    ],
    pytest.param(
        DURABLE,
        {"x-queue-type": "stream", "x-stream-max-segment-size-bytes": 0},
        "x-stream-max-segment-size-bytes",
        id="segment-size-0",
    ),
    *[
        pytest.param(
            DURABLE,
            {"x-queue-type": queue_type, "x-queue-leader-locator": value},
            "x-queue-leader-locator",
            id=f"deprecated-locator-{value}-{queue_type}",
        )
        for queue_type, value in [("quorum", "random"), ("stream", "least-leaders")]
    ],
    *[
        pytest.param(DURABLE, {name: 10}, name, id=f"unknown-name-ignored-{name}")
        for name in ("maxPriority", "X-Max-Priority", "x-unknown")
    ],
]


@pytest.mark.broker
@pytest.mark.parametrize(("flags", "arguments", "key"), STRICTER_THAN_BROKER)
def test_broker_accepts_what_we_refuse_on_purpose(
    connection: pika.BlockingConnection,
    unique_name: str,
    flags: Flags,
    arguments: dict[str, object],
    key: str,
) -> None:
    assert key in [p.key for p in all_problems(flags, arguments)]
    try:
        declare(connection, unique_name, flags, arguments)
    finally:
        delete(connection, unique_name)


@pytest.mark.broker
def test_broker_default_exchange_dead_letters_by_the_original_key(
    connection: pika.BlockingConnection, unique_name: str
) -> None:
    """Why ``x-dead-letter-exchange: ""`` needs a routing key: a message that came through an
    exchange under another key is dead-lettered under that key, to no queue, and is gone.

    The control, rejected next, came by the queue's own name: it is dead-lettered back into
    the queue, and once it is there the first one would have been too.
    """
    key = f"{unique_name}.key"
    channel = connection.channel()
    try:
        channel.queue_declare(unique_name, arguments={"x-dead-letter-exchange": ""})
        channel.queue_bind(unique_name, "amq.direct", key)
        channel.confirm_delivery()
        for exchange, routing_key, sent in [
            ("amq.direct", key, b"lost"),
            ("", unique_name, b"control"),
        ]:
            channel.basic_publish(exchange, routing_key, sent, mandatory=True)
            method, _, body = channel.basic_get(unique_name)
            assert body == sent
            channel.basic_nack(method.delivery_tag, requeue=False)

        def back() -> bytes | None:
            return channel.basic_get(unique_name, auto_ack=True)[2]

        assert wait_until(back, what="the control dead-lettered back") == b"control"
        assert channel.queue_declare(unique_name, passive=True).method.message_count == 0
    finally:
        channel.queue_delete(unique_name)
        channel.close()


@pytest.mark.broker
def test_broker_quorum_reject_publish_dlx_drops_head(
    connection: pika.BlockingConnection, unique_name: str
) -> None:
    """Why quorum + reject-publish-dlx is refused: RabbitMQ silently drops the oldest message.

    With max-length 1 and three confirmed publishes, reject-publish would keep the first
    message and nack later ones; what happens is drop-head: every publish is confirmed and
    only the last message is left.
    """
    arguments = {"x-queue-type": "quorum", "x-max-length": 1, "x-overflow": "reject-publish-dlx"}
    channel = connection.channel()
    try:
        channel.queue_declare(unique_name, durable=True, arguments=arguments)
        channel.confirm_delivery()
        for body in (b"1", b"2", b"3"):
            channel.basic_publish("", unique_name, body)  # raises NackError if rejected
        _, _, body = channel.basic_get(unique_name, auto_ack=True)
        assert body == b"3"
        assert channel.queue_declare(unique_name, passive=True).method.message_count == 0
    finally:
        channel.queue_delete(unique_name)
        channel.close()
