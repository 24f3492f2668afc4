"""Tasks and a recording middleware for the middleware tests (local transport and fakes).

``Recorder`` plays a tracer: ``before_task`` makes the message's "span" current (a context
variable) and ``before_publish`` carries the current one in a header, as OpenTelemetry's
propagator would; every hook call is appended to ``events``.
"""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

from mqwire.runtime import MessageRequest, Middleware, TaskOutcome
from mqwire.runtime.client_metrics import outcome_of
from mqwire.runtime.errors import PublishError
from mqwire.runtime.wire import WireMessage

#: The "span" current where a hook or task runs: ``queue:id`` of the message being handled.
SPAN: contextvars.ContextVar[str | None] = contextvars.ContextVar("span", default=None)
TRACE_HEADER = "x-test-trace"
#: (queue, id, span seen inside the task), per task run.
SEEN: list[tuple[str, Any, str | None]] = []


class Recorder(Middleware):
    """Records each hook call; carries the current span across publishes."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def before_publish(self, message: WireMessage) -> WireMessage:
        self.events.append(("before_publish", message.routing_key, SPAN.get()))
        return message.with_headers({TRACE_HEADER: SPAN.get() or "root"})

    def after_publish(
        self, message: WireMessage, error: PublishError | None, seconds: float
    ) -> None:
        assert seconds >= 0
        self.events.append(("after_publish", message.routing_key, outcome_of(error)))

    def before_task(self, request: MessageRequest) -> None:
        self.events.append(("before_task", request.queue, request.headers.get(TRACE_HEADER)))
        SPAN.set(f"{request.queue}:{request.params.get('id')}")

    def after_task(self, request: MessageRequest, outcome: TaskOutcome) -> None:
        error = type(outcome.error).__name__ if outcome.error else None
        self.events.append(("after_task", request.queue, outcome.result, SPAN.get(), error))


def work(context: Any, request: MessageRequest) -> None:
    """Records the span it runs in, publishes each ``then`` ``[routing key, body]``, then fails
    while the attempt is at most ``fail``."""
    SEEN.append((request.queue, request.params.get("id"), SPAN.get()))
    for routing_key, body in request.params.get("then", []):
        request.registry.publisher("jobs").publish(body, routing_key=routing_key)  # type: ignore[union-attr]
    if request.attempt <= request.params.get("fail", 0):
        raise ValueError(f"message {request.params.get('id')} fails on attempt {request.attempt}")


async def work_async(context: Any, request: MessageRequest) -> None:
    await asyncio.sleep(0)
    work(context, request)
