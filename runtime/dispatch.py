"""Running one delivery: decode, validate, call the task, and decide ack, retry or dead-letter.

Pure: no pika, no clock, no I/O. The local transport and the worker both call ``dispatch`` and
act on the ``Outcome`` it returns, so they fail, retry and dead-letter alike.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from mqwire.topology.delays import PREFIX as DELAY_PREFIX
from mqwire.topology.delays import parse_routing_key
from mqwire.topology.model import DEFAULT_MAX_BODY_BYTES

from .codec import decode_body
from .errors import DecodeError, MessageSchemaError, TaskTimeout, unknown_publish
from .interfaces import TaskRegistry
from .request import DefaultResource, MessageRequest

#: Header carrying the attempt number (1 on first publish) across retries.
ATTEMPT_HEADER = "x-mqwire-attempt"
#: Headers on a dead-lettered message saying why it failed.
REASON_HEADER = "x-mqwire-reason"
EXCEPTION_HEADER = "x-mqwire-exception"
TASK_HEADER = "x-mqwire-task"
QUEUE_HEADER = "x-mqwire-queue"
ATTEMPTS_HEADER = "x-mqwire-attempts"
FAILED_AT_HEADER = "x-mqwire-failed-at"

#: Seconds a task past its ``timeout:`` gets to end once interrupted before it is abandoned
#: (``mserve --timeout-grace``; the local transport waits as long).
DEFAULT_TIMEOUT_GRACE = 5.0

#: Validates a decoded body; raises MessageSchemaError.
BodyValidator = Callable[[Any], None]


@dataclass(frozen=True)
class TaskEntry:
    """A resolved task: the callable, its root factory and where it listens."""

    name: str
    function: Callable[..., Any]
    queue: str
    publisher_consumer: str | None = None
    root_factory: Callable[..., Any] | None = None
    timeout: float | None = None
    path: str = ""
    #: ``async def`` (also through ``functools.partial``): run on the loop, not in a thread.
    is_coroutine: bool = field(init=False, compare=False)
    #: The outcome of every successful run, built once rather than per message.
    acked: Outcome = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "is_coroutine", inspect.iscoroutinefunction(self.function))
        object.__setattr__(self, "acked", Outcome(Action.ACK, self.name))


class QueuePolicy(NamedTuple):
    """What dispatch needs to know about a queue: its task, retries, and what bodies it takes."""

    queue: str
    task: TaskEntry | None
    retry_delays: tuple[float, ...] = ()
    validate: BodyValidator | None = None
    max_body: int = DEFAULT_MAX_BODY_BYTES
    accept: frozenset[str] = frozenset()


class Delivery(NamedTuple):
    """A message as it arrives from a queue.

    A named tuple: immutable, and much cheaper to build than a frozen dataclass, which
    matters for the one built per message before the task can start.
    """

    queue: str
    body: bytes
    properties: Mapping[str, Any]
    routing_key: str
    exchange: str = ""
    redelivered: bool = False
    delivery_tag: int | None = None

    @property
    def headers(self) -> Mapping[str, Any]:
        return self.properties.get("headers") or {}

    @property
    def message_id(self) -> str:
        return str(self.properties.get("message_id") or "")

    @property
    def attempt(self) -> int:
        return attempt_of(self.headers)


def attempt_of(headers: Mapping[str, Any]) -> int:
    """The attempt number a message's headers carry: 1 unless a positive integer says more."""
    value = headers.get(ATTEMPT_HEADER, 1)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 1


class Action(enum.Enum):
    ACK = "ack"
    RETRY = "retry"
    DEAD_LETTER = "dead-letter"


@dataclass(frozen=True)
class Outcome:
    """What to do with a delivery; ``error`` is the exception behind a retry or dead letter."""

    action: Action
    task: str | None = None
    delay: float | None = None
    reason: str = ""
    error: BaseException | None = field(default=None, compare=False)


def prepare(
    delivery: Delivery,
    policy: QueuePolicy,
    *,
    registry: TaskRegistry | None = None,
    settings: Mapping[str, str] | None = None,
) -> Outcome | tuple[TaskEntry, MessageRequest]:
    """Decode and validate ``delivery``: the task and its request, or why it is dead-lettered.

    Split from the call so that the worker can run the task where it belongs (a thread for
    plain functions, the loop for coroutines) while every transport decodes alike.
    """
    task = policy.task
    if task is None:
        return Outcome(Action.DEAD_LETTER, reason=f"no task consumes queue {policy.queue!r}")
    if len(delivery.body) > policy.max_body:  # refused before a byte of it is decoded
        reason = (
            f"body of {len(delivery.body)} bytes is over queue {policy.queue!r}'s limit of "
            f"{policy.max_body} (max_body_bytes)"
        )
        return Outcome(Action.DEAD_LETTER, task.name, reason=reason)
    try:
        content_type = delivery.properties.get("content_type")
        decoded = decode_body(delivery.body, content_type, policy.accept)
        if policy.validate is not None:
            policy.validate(decoded.checked)
    except (DecodeError, MessageSchemaError) as exc:
        return Outcome(Action.DEAD_LETTER, task.name, reason=str(exc), error=exc)
    properties, headers = delivery.properties, delivery.headers
    exchange, routing_key = delivery.exchange, delivery.routing_key
    if exchange.startswith(DELAY_PREFIX):  # a delayed message: the task sees where it went
        exchange, routing_key = delayed_destination(exchange, routing_key)
    request = MessageRequest(  # positional, in field order: built once per message
        delivery.body, decoded.params, decoded.json, properties.get("content_type"), headers,
        properties, routing_key, exchange, delivery.queue, task.name,
        delivery.message_id, attempt_of(headers), delivery.redelivered, delivery.delivery_tag,
        registry, settings or {},
    )  # fmt: skip
    return task, request


def delayed_destination(exchange: str, routing_key: str) -> tuple[str, str]:
    """(exchange, routing key) a delayed message was published to, read from its ladder key."""
    parsed = parse_routing_key(routing_key)
    return (exchange, routing_key) if parsed is None else parsed[1:]


def call_task(task: TaskEntry, request: MessageRequest) -> Any:
    """``task(context, request)`` with ``context = root_factory(request)``."""
    context = (task.root_factory or DefaultResource)(request)
    return task.function(context, request)


def failure_outcome(delivery: Delivery, policy: QueuePolicy, error: BaseException) -> Outcome:
    """Retry while the queue's delays last, then dead-letter, with the error as the reason.

    A task that failed on a publish whose outcome is unknown (no confirm in time, or the
    connection lost before it) is judged the same, so its runs stay within the policy; the
    reason says that its message may have arrived all the same.
    """
    name = policy.task.name if policy.task else None
    reason = describe_failure(error)
    if unknown_publish(error) is not None:
        reason = header_text(
            "the outcome of a publish is unknown (its message may still arrive): " + reason
        )
    if delivery.attempt <= len(policy.retry_delays):
        delay = policy.retry_delays[delivery.attempt - 1]
        return Outcome(Action.RETRY, name, delay=delay, reason=reason, error=error)
    return Outcome(Action.DEAD_LETTER, name, reason=reason, error=error)


def overrun(task: str, timeout: float) -> TaskTimeout:
    """The failure of a task that ran past its ``timeout:``; judged by ``failure_outcome`` like
    any other, so the worker and the local transport retry and dead-letter it alike."""
    return TaskTimeout(f"task {task!r} ran longer than its timeout of {timeout:g} s")


def describe_failure(error: BaseException) -> str:
    """``Type: message`` of a task's exception, even one whose ``str()`` itself fails."""
    try:
        text = str(error)
    except Exception:  # the task's own __str__ is broken: say so rather than fail settling
        text = "<str() of the exception failed>"
    return header_text(f"{type(error).__name__}: {text}")


def header_text(text: str, limit: int = 1000) -> str:
    """Text every AMQP header (and log line) can carry: at most ``limit`` characters, UTF-8.

    A task's error may quote the body it choked on, lone surrogates included; a header that
    cannot be encoded would make the dead letter itself unpublishable.
    """
    return text[:limit].encode("utf-8", "backslashreplace").decode("utf-8")


def retry_properties(delivery: Delivery) -> dict[str, Any]:
    """The properties to re-publish a delivery with for its next attempt."""
    headers = {**delivery.headers, ATTEMPT_HEADER: delivery.attempt + 1}
    return {**delivery.properties, "headers": headers}


def dead_letter_properties(delivery: Delivery, outcome: Outcome, *, now: float) -> dict[str, Any]:
    """The properties of a dead-lettered copy: the original ones plus why it failed."""
    headers = {
        **delivery.headers,
        REASON_HEADER: header_text(outcome.reason),
        EXCEPTION_HEADER: type(outcome.error).__name__ if outcome.error else "",
        TASK_HEADER: outcome.task or "",
        QUEUE_HEADER: delivery.queue,
        ATTEMPTS_HEADER: delivery.attempt,
        FAILED_AT_HEADER: int(now),
    }
    return {**delivery.properties, "headers": headers}
