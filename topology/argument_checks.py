"""Check a queue's ``x-`` arguments and refuse what RabbitMQ refuses, before reaching a broker.

RabbitMQ reports a bad argument one at a time, as a 406 that closes the channel, and silently
ignores names it does not know (so a typo is never reported at all). Checking here gives every
problem at once, with the argument's name so the caller can point at it in the YAML. What each
argument accepts is the table in :mod:`.argument_specs`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from .argument_specs import (
    AMQP_INT_MAX,
    KNOWN_ARGUMENTS,
    QUEUE_TYPES,
    ArgumentSpec,
    QueueType,
    queue_type_of,
)


@dataclass(frozen=True)
class ArgumentProblem:
    """One bad queue argument or flag combination.

    ``key`` is the argument at fault, so the caller can point at it in the YAML; None when the
    problem is about the queue as a whole (its durable/exclusive/auto_delete flags).
    """

    key: str | None
    message: str
    hint: str | None = None


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
    if (
        _applies("x-dead-letter-exchange", arguments, queue_type)
        and arguments["x-dead-letter-exchange"] == ""
        and "x-dead-letter-routing-key" not in arguments
    ):
        problems.append(
            ArgumentProblem(
                "x-dead-letter-exchange",
                "'x-dead-letter-exchange: \"\"' without 'x-dead-letter-routing-key' "
                "dead-letters by the original routing key",
                "the default exchange sends each to the queue named like its key: none (it is "
                "dropped) for a message routed by a pattern, this queue again for one published "
                "by its name; add x-dead-letter-routing-key naming the queue to keep them, such "
                "as this queue's dead-letter queue",
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
