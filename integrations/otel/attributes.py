"""What the spans are named and which attributes they carry: OpenTelemetry's messaging
conventions for RabbitMQ, from mqwire's message and request alone (no OpenTelemetry import).

Names follow the conventions' ``{operation} {destination}``: ``publish orders`` (the exchange,
or for the default exchange the queue the routing key names) and ``process orders`` (the
queue). Routing keys stay out of span names: a topic key can take any number of values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mqwire.runtime import MessageRequest, TaskOutcome
    from mqwire.runtime.wire import WireMessage

#: An attribute value as OpenTelemetry takes it (what the API's ``AttributeValue`` allows).
Value = str | bool | int | float

SYSTEM = "rabbitmq"
#: mqwire's own attributes: how a task's delivery ended (``ack``, ``retry``, ``dead-letter``,
#: ...) or a publish (``confirmed``, ``nacked``, ``returned``, ...), the task and its attempt.
OUTCOME = "mqwire.outcome"
TASK = "mqwire.task"
ATTEMPT = "mqwire.attempt"


def destination(message: WireMessage) -> str:
    """The exchange, or for the default exchange the queue the routing key addresses."""
    return message.exchange or message.routing_key


def publish_name(message: WireMessage) -> str:
    return f"publish {destination(message)}"


def publish_attributes(message: WireMessage) -> dict[str, Value]:
    """A PRODUCER span's: where the message goes and which it is."""
    found: dict[str, Value] = {
        "messaging.system": SYSTEM,
        "messaging.operation.name": "publish",
        "messaging.operation.type": "send",
        "messaging.destination.name": destination(message),
        "messaging.message.id": message.message_id,
        "messaging.message.body.size": len(message.body),
    }
    if message.routing_key:
        found["messaging.rabbitmq.destination.routing_key"] = message.routing_key
    return found


def process_name(request: MessageRequest) -> str:
    return f"process {request.queue}"


def process_attributes(request: MessageRequest) -> dict[str, Value]:
    """A CONSUMER span's: the queue, the message, the task and which attempt this is."""
    found: dict[str, Value] = {
        "messaging.system": SYSTEM,
        "messaging.operation.name": "process",
        "messaging.operation.type": "process",
        "messaging.destination.name": request.queue,
        "messaging.message.id": request.message_id,
        "messaging.message.body.size": len(request.body),
        TASK: request.task_name,
        ATTEMPT: request.attempt,
    }
    if request.routing_key:
        found["messaging.rabbitmq.destination.routing_key"] = request.routing_key
    if request.delivery_tag is not None:
        found["messaging.rabbitmq.message.delivery_tag"] = request.delivery_tag
    return found


def error_type(error: BaseException) -> str:
    """The conventions' ``error.type``: the exception's class, fully qualified."""
    kind = type(error)
    module = kind.__module__
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"


def task_failed(outcome: TaskOutcome) -> str | None:
    """The status description of a task's span that failed (it or ``before_task`` raised)."""
    if outcome.error is None:
        return None
    return outcome.reason or f"{type(outcome.error).__name__}: {outcome.error}"
