"""Check a queue's ``x-`` arguments and refuse what RabbitMQ refuses, before reaching a broker.

RabbitMQ reports a bad argument one at a time, as a 406 that closes the channel, and silently
ignores names it does not know (so a typo is never reported at all). Checking here gives every
problem at once, with the argument's name so the caller can point at it in the YAML.

The table follows RabbitMQ 3.10, checked against a real broker by
``tests/topology/test_arguments.py``. Where this module is stricter than the broker, a comment
in the table says so and why; the tests list those cases and assert the broker accepts them.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

#: Queue types a RabbitMQ 3.10 queue can have, named as in ``x-queue-type``.
QueueType = Literal["classic", "quorum", "stream"]
QUEUE_TYPES: tuple[QueueType, ...] = ("classic", "quorum", "stream")

#: The queue type RabbitMQ 3.10 uses when ``x-queue-type`` is absent.
DEFAULT_QUEUE_TYPE: QueueType = "classic"

#: What a spec accepts: an integer, any string, a boolean, or one of fixed strings.
ArgumentKind = Literal["int", "str", "bool", "enum"]

#: Largest integer an AMQP field table carries (signed 64 bits); pika cannot encode more.
AMQP_INT_MAX = 2**63 - 1

#: RabbitMQ's largest message TTL and queue expiry, in milliseconds (ten years).
_MAX_EXPIRY_MS = 315_360_000_000

_CLASSIC: frozenset[QueueType] = frozenset({"classic"})
_QUORUM: frozenset[QueueType] = frozenset({"quorum"})
_STREAM: frozenset[QueueType] = frozenset({"stream"})
_CLASSIC_QUORUM: frozenset[QueueType] = frozenset({"classic", "quorum"})
_QUORUM_STREAM: frozenset[QueueType] = frozenset({"quorum", "stream"})
_ALL: frozenset[QueueType] = frozenset(QUEUE_TYPES)


@dataclass(frozen=True)
class ArgumentProblem:
    """One bad queue argument or flag combination.

    ``key`` is the argument at fault, so the caller can point at it in the YAML; None when the
    problem is about the queue as a whole (its durable/exclusive/auto_delete flags).
    """

    key: str | None
    message: str
    hint: str | None = None


@dataclass(frozen=True)
class ArgumentSpec:
    """What one ``x-`` argument accepts: its value type and the queue types that take it.

    ``pattern`` further restricts a ``str`` (``format`` says in words what it wants);
    ``unsupported_choices`` lists (queue type, value) pairs a type does not accept although
    the argument itself is fine for that type.
    """

    kind: ArgumentKind
    queue_types: frozenset[QueueType]
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()
    unsupported_choices: tuple[tuple[QueueType, str], ...] = ()
    pattern: re.Pattern[str] | None = None
    format: str | None = None

    def expected(self) -> str:
        """The accepted values in words, for messages: ``an integer from 1 to 255``."""
        if self.kind == "int":
            if self.minimum is not None and self.maximum is not None:
                return f"an integer from {self.minimum} to {self.maximum}"
            if self.minimum is not None:
                return f"an integer >= {self.minimum}"
            return "an integer"
        if self.kind == "bool":
            return "true or false"
        if self.kind == "enum":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        return self.format or "a string"

    def accepts(self, value: object) -> bool:
        """Whether ``value`` has the right type and range (queue type aside)."""
        if self.kind == "int":
            # bool is a subclass of int: True must not pass as 1 (RabbitMQ refuses it too).
            if not isinstance(value, int) or isinstance(value, bool):
                return False
            low = self.minimum if self.minimum is not None else -AMQP_INT_MAX - 1
            high = self.maximum if self.maximum is not None else AMQP_INT_MAX
            return low <= value <= high
        if self.kind == "bool":
            return isinstance(value, bool)
        if not isinstance(value, str):
            return False
        if self.kind == "enum":
            return value in self.choices
        return self.pattern is None or self.pattern.fullmatch(value) is not None


#: ``x-max-age``: a positive whole number and one unit (RabbitMQ's own check). RabbitMQ 3.10
#: answers a value it cannot parse at all (``' 1h'``, ``'h'``, ``'-1h'``) by closing the whole
#: connection with 541 INTERNAL_ERROR, so refusing it here matters more than for other arguments.
_MAX_AGE = re.compile(r"0*[1-9][0-9]*[YMDhms]")

#: Every queue argument mqwire knows, as RabbitMQ 3.10 handles it. Names not listed are refused:
#: the broker accepts any unknown name silently, so a misspelt argument would just be ignored.
KNOWN_ARGUMENTS: Mapping[str, ArgumentSpec] = MappingProxyType(
    {
        "x-queue-type": ArgumentSpec("enum", _ALL, choices=QUEUE_TYPES),
        # Stricter: the broker accepts 0, which declares a priority queue without priorities.
        "x-max-priority": ArgumentSpec("int", _CLASSIC, minimum=1, maximum=255),
        # Quorum queues take a message TTL since 3.10; streams refuse it (they use x-max-age).
        "x-message-ttl": ArgumentSpec("int", _CLASSIC_QUORUM, minimum=0, maximum=_MAX_EXPIRY_MS),
        "x-expires": ArgumentSpec("int", _CLASSIC_QUORUM, minimum=1, maximum=_MAX_EXPIRY_MS),
        "x-max-length": ArgumentSpec("int", _CLASSIC_QUORUM, minimum=0),
        "x-max-length-bytes": ArgumentSpec("int", _ALL, minimum=0),
        # Stricter: a quorum queue accepts reject-publish-dlx but only logs a warning and uses
        # drop-head instead, silently dropping the oldest messages.
        "x-overflow": ArgumentSpec(
            "enum",
            _CLASSIC_QUORUM,
            choices=("drop-head", "reject-publish", "reject-publish-dlx"),
            unsupported_choices=(("quorum", "reject-publish-dlx"),),
        ),
        # "" is valid: the default exchange, routing by queue name.
        "x-dead-letter-exchange": ArgumentSpec("str", _CLASSIC_QUORUM),
        "x-dead-letter-routing-key": ArgumentSpec("str", _CLASSIC_QUORUM),
        # Stricter: 3.10 does not check this value at all (it accepts -1 and "5").
        "x-delivery-limit": ArgumentSpec("int", _QUORUM, minimum=0),
        # Streams refuse it in 3.10 (single active consumer on streams came with 3.11).
        "x-single-active-consumer": ArgumentSpec("bool", _CLASSIC_QUORUM),
        "x-dead-letter-strategy": ArgumentSpec(
            "enum", _QUORUM, choices=("at-most-once", "at-least-once")
        ),
        "x-queue-mode": ArgumentSpec("enum", _CLASSIC, choices=("default", "lazy")),
        "x-queue-version": ArgumentSpec("int", _CLASSIC, minimum=1, maximum=2),
        "x-quorum-initial-group-size": ArgumentSpec("int", _QUORUM, minimum=1),
        # The stream counterpart of x-quorum-initial-group-size (each type refuses the other's).
        "x-initial-cluster-size": ArgumentSpec("int", _STREAM, minimum=1),
        "x-max-age": ArgumentSpec(
            "str",
            _STREAM,
            pattern=_MAX_AGE,
            format="a positive whole number and one unit of Y, M, D, h, m or s (like '7D', '1h')",
        ),
        # Stricter: the broker accepts 0, a segment per message. 3_000_000_000 is its maximum.
        "x-stream-max-segment-size-bytes": ArgumentSpec(
            "int", _STREAM, minimum=1, maximum=3_000_000_000
        ),
        # Stricter: the broker also takes the deprecated aliases 'random' and 'least-leaders'.
        "x-queue-leader-locator": ArgumentSpec(
            "enum", _QUORUM_STREAM, choices=("client-local", "balanced")
        ),
    }
)

#: Why a (queue type, value) pair in ``unsupported_choices`` is refused, for hints.
_UNSUPPORTED_CHOICE_HINTS: Mapping[tuple[str, str], str] = MappingProxyType(
    {
        ("x-overflow", "reject-publish-dlx"): (
            "RabbitMQ accepts it on a quorum queue but uses drop-head instead; "
            "use 'reject-publish' or 'drop-head'"
        ),
    }
)

#: Units of ``x-max-age``, for its hint.
_MAX_AGE_HINT = (
    "units are case-sensitive: Y years, M months, D days, h hours, m minutes, s seconds; "
    "one unit only, e.g. '90m' rather than '1h30m'"
)

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def _normalise(name: str) -> str:
    """Reduce a name so spelling variants meet: ``xMaxPriority`` -> ``maxpriority``."""
    name = _CAMEL_BOUNDARY.sub("-", name).lower()
    name = re.sub(r"^x[-_]", "", name)
    return re.sub(r"[-_]", "", name)


_BY_NORMALISED: Mapping[str, str] = MappingProxyType({_normalise(k): k for k in KNOWN_ARGUMENTS})


def suggest_argument(name: str) -> str | None:
    """The known argument ``name`` most likely meant, or None when nothing is close."""
    normalised = _normalise(name)
    if normalised in _BY_NORMALISED:
        return _BY_NORMALISED[normalised]
    close = difflib.get_close_matches(normalised, list(_BY_NORMALISED), n=1)
    return _BY_NORMALISED[close[0]] if close else None


def queue_type_of(arguments: Mapping[str, object]) -> QueueType | None:
    """The queue type ``arguments`` declare (classic by default); None if x-queue-type is bad."""
    value = arguments.get("x-queue-type", DEFAULT_QUEUE_TYPE)
    for queue_type in QUEUE_TYPES:
        if value == queue_type:
            return queue_type
    return None


def _types_text(queue_types: frozenset[QueueType]) -> str:
    names = [t for t in QUEUE_TYPES if t in queue_types]
    return " and ".join(names) + " queues"


def check_arguments(arguments: Mapping[str, object]) -> list[ArgumentProblem]:
    """Every unknown, mistyped, out-of-range or wrong-queue-type argument, one problem each."""
    queue_type = queue_type_of(arguments)
    problems: list[ArgumentProblem] = []
    for key, value in arguments.items():
        problem = _check_one(key, value, queue_type)
        if problem is not None:
            problems.append(problem)
    return problems


def check_argument_values(arguments: Mapping[str, object]) -> list[ArgumentProblem]:
    """Unknown names and bad values only, whatever the queue type (for topology defaults,
    which each queue then judges against its own type)."""
    problems = (_check_one(key, value, None) for key, value in arguments.items())
    return [p for p in problems if p is not None]


def _check_one(key: str, value: object, queue_type: QueueType | None) -> ArgumentProblem | None:
    spec = KNOWN_ARGUMENTS.get(key)
    if spec is None:
        suggestion = suggest_argument(key) if isinstance(key, str) else None
        hint = f"did you mean {suggestion!r}?" if suggestion else None
        return ArgumentProblem(key, f"unknown queue argument {key!r}", hint)
    # A wrong queue type comes first: the fix is to remove the argument, whatever its value.
    if queue_type is not None and queue_type not in spec.queue_types:
        return ArgumentProblem(
            key,
            f"{key!r} is not supported by {queue_type} queues",
            f"it applies to {_types_text(spec.queue_types)} only",
        )
    if not spec.accepts(value):
        return ArgumentProblem(
            key, f"{key!r} must be {spec.expected()}, not {value!r}", _value_hint(key, spec, value)
        )
    if queue_type is not None and (queue_type, value) in spec.unsupported_choices:
        return ArgumentProblem(
            key,
            f"{key!r} value {value!r} is not supported by {queue_type} queues",
            _UNSUPPORTED_CHOICE_HINTS.get((key, str(value))),
        )
    return None


def _value_hint(key: str, spec: ArgumentSpec, value: object) -> str | None:
    """How to fix a value of the wrong type, where the likely slip is known."""
    if spec.kind == "int":
        if isinstance(value, bool):
            return "true/false is a boolean here; write a number"
        if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value.strip()):
            return f"write {value.strip()} without quotes: a quoted number is a string"
        if isinstance(value, int) and spec.maximum is None and value > AMQP_INT_MAX:
            return f"the largest integer AMQP can carry is {AMQP_INT_MAX}"
        return None
    if spec.kind == "bool":
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return f"write {value.strip().lower()} without quotes: a quoted word is a string"
        if isinstance(value, int):
            return "write true or false: RabbitMQ refuses numbers here"
        return None
    if spec.kind == "enum" and isinstance(value, str):
        lowered = {c.lower(): c for c in spec.choices}
        close = lowered.get(value.strip().lower()) or next(
            iter(difflib.get_close_matches(value, spec.choices, n=1)), None
        )
        return f"did you mean {close!r}?" if close else None
    if key == "x-max-age":
        return _MAX_AGE_HINT
    return None


def check_queue_flags(
    *, durable: bool, exclusive: bool, auto_delete: bool, arguments: Mapping[str, object]
) -> list[ArgumentProblem]:
    """Flag and argument combinations RabbitMQ refuses, or accepts and then silently ignores.

    Arguments ``check_arguments`` already refuses for the queue type are not looked at again,
    so one mistake is reported once.
    """
    queue_type = queue_type_of(arguments)
    problems: list[ArgumentProblem] = []
    if queue_type in ("quorum", "stream"):
        why = f"RabbitMQ refuses to declare a {queue_type} queue that is"
        if not durable:
            problems.append(
                ArgumentProblem(
                    None,
                    f"{queue_type} queues must be durable",
                    f"remove durable: false; {why} not durable",
                )
            )
        if exclusive:
            problems.append(
                ArgumentProblem(
                    None,
                    f"{queue_type} queues cannot be exclusive",
                    f"remove exclusive: true, or use a classic queue; {why} exclusive",
                )
            )
        if auto_delete:
            problems.append(
                ArgumentProblem(
                    None,
                    f"{queue_type} queues cannot be auto-delete",
                    f"remove auto_delete: true, or use x-expires; {why} auto-delete",
                )
            )
    if queue_type is None:
        return problems

    has_dlx = "x-dead-letter-exchange" in arguments
    if _applies("x-dead-letter-routing-key", arguments, queue_type) and not has_dlx:
        problems.append(
            ArgumentProblem(
                "x-dead-letter-routing-key",
                "'x-dead-letter-routing-key' needs 'x-dead-letter-exchange'",
                "RabbitMQ refuses the queue without it; set x-dead-letter-exchange "
                "('' is the default exchange)",
            )
        )
    if _applies("x-delivery-limit", arguments, queue_type) and not has_dlx:
        problems.append(
            ArgumentProblem(
                "x-delivery-limit",
                "'x-delivery-limit' without 'x-dead-letter-exchange' drops every message "
                "past the limit",
                "RabbitMQ discards them silently; add x-dead-letter-exchange: '' and "
                "x-dead-letter-routing-key naming the queue's dead-letter queue",
            )
        )
    if _applies("x-dead-letter-strategy", arguments, queue_type):
        strategy = arguments["x-dead-letter-strategy"]
        if not has_dlx:
            problems.append(
                ArgumentProblem(
                    "x-dead-letter-strategy",
                    "'x-dead-letter-strategy' has no effect without 'x-dead-letter-exchange'",
                    "RabbitMQ accepts it but disables dead-lettering; set "
                    "x-dead-letter-exchange or remove x-dead-letter-strategy",
                )
            )
        if strategy == "at-least-once" and arguments.get("x-overflow") != "reject-publish":
            problems.append(
                ArgumentProblem(
                    "x-dead-letter-strategy",
                    "'x-dead-letter-strategy: at-least-once' needs 'x-overflow: reject-publish'",
                    "without it RabbitMQ silently falls back to at-most-once; "
                    "add x-overflow: reject-publish",
                )
            )
    return problems


def _applies(key: str, arguments: Mapping[str, object], queue_type: QueueType) -> bool:
    """Whether ``key`` is present and allowed for the queue type (else check_arguments says so)."""
    return key in arguments and queue_type in KNOWN_ARGUMENTS[key].queue_types
