"""The table of queue ``x-`` arguments RabbitMQ 3.10 knows: each one's value type, range and
the queue types that take it.

The table follows RabbitMQ 3.10, checked against a real broker by
``tests/topology/test_arguments.py``. Where it is stricter than the broker, a comment in the
table says so and why; the tests list those cases and assert the broker accepts them. The
checks that judge a queue's arguments against it are in :mod:`.argument_checks`.
"""

from __future__ import annotations

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


def queue_type_of(arguments: Mapping[str, object]) -> QueueType | None:
    """The queue type ``arguments`` declare (classic by default); None if x-queue-type is bad."""
    value = arguments.get("x-queue-type", DEFAULT_QUEUE_TYPE)
    for queue_type in QUEUE_TYPES:
        if value == queue_type:
            return queue_type
    return None
