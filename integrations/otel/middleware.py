"""``TracingMiddleware``: a PRODUCER span per publish and a CONSUMER span per task, the trace
context carried from one to the other in the message headers.

A publish's span is a child of the span current where ``publish()`` was called (a web request's,
a task's) and its context goes into the headers with the propagator (W3C ``traceparent`` by
default); the task's span continues that trace as the publish's child and links to it too. The
task's span is current for the whole task (mqwire runs each delivery in a ``contextvars``
context of its own), so spans the task starts and what it publishes are its children.

OpenTelemetry failing never fails a publish or a task: each hook logs the error (logger
``mqwire.otel``) and lets the message go on untraced.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Mapping
from importlib import metadata
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.propagators.textmap import Getter, TextMapPropagator
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode

from mqwire.runtime.client_metrics import outcome_of
from mqwire.runtime.middleware import Middleware

from . import attributes
from .open_spans import Key, OpenSpans

if TYPE_CHECKING:
    from mqwire.runtime.errors import PublishError
    from mqwire.runtime.middleware import TaskOutcome
    from mqwire.runtime.request import MessageRequest
    from mqwire.runtime.wire import WireMessage

log = logging.getLogger("mqwire.otel")

#: The instrumentation scope of every span this makes.
SCOPE = "mqwire.otel"


class TracingMiddleware(Middleware):
    """Traces every publish and every task of a registry (and of ``mserve``).

    Parameters:
        tracer_provider: where the spans go; default: the global one, looked up when a span
            starts (so one set after ``load()`` is used).
        propagator: how the context is written to and read from the headers; default: the
            global one (W3C Trace Context and Baggage unless configured otherwise).
        link_only: start each task's span in a trace of its own, linked to the publish, rather
            than as the publish's child (for messages that wait long: delayed, replayed).
    """

    def __init__(
        self,
        tracer_provider: trace.TracerProvider | None = None,
        propagator: TextMapPropagator | None = None,
        *,
        link_only: bool = False,
    ) -> None:
        #: The tracer of every span this makes.
        self.tracer = trace.get_tracer(SCOPE, _version(), tracer_provider=tracer_provider)
        self.link_only = link_only
        self._propagator = propagator
        self._publishing: OpenSpans[Span] = OpenSpans()
        #: The task's request and span, in the delivery's own context (before_task sets it).
        self._task: contextvars.ContextVar[tuple[MessageRequest, Span] | None]
        self._task = contextvars.ContextVar(f"mqwire.otel.task.{id(self)}", default=None)

    @property
    def propagator(self) -> TextMapPropagator:
        return self._propagator or propagate.get_global_textmap()

    def before_publish(self, message: WireMessage) -> WireMessage | None:
        """Start the message's PRODUCER span; its context in the headers."""
        try:
            return self._start_publish(message)
        except Exception:
            log.warning("could not trace message %s; sent untraced", message.message_id,
                        exc_info=True)  # fmt: skip
            return None

    def _start_publish(self, message: WireMessage) -> WireMessage | None:
        parent = otel_context.get_current()
        span = self.tracer.start_span(
            attributes.publish_name(message),
            context=parent,
            kind=SpanKind.PRODUCER,
            attributes=attributes.publish_attributes(message),
        )
        carrier: dict[str, str] = {}
        try:
            self.propagator.inject(carrier, context=trace.set_span_in_context(span, parent))
        except Exception:
            span.end()
            raise
        if span.is_recording():  # a span sampled out has nothing to end
            given_up = self._publishing.add(_key(message), span)
            if given_up is not None:
                _end_unreported(given_up)
        return message.with_headers(carrier) if carrier else None

    def after_publish(
        self, message: WireMessage, error: PublishError | None, seconds: float
    ) -> None:
        """End the message's PRODUCER span: its outcome, an error status if it failed."""
        try:
            span = self._publishing.pop(_key(message))
            if span is not None:
                _end(span, outcome_of(error), error, str(error) if error else None)
        except Exception:
            log.warning("could not end the span of message %s", message.message_id,
                        exc_info=True)  # fmt: skip

    def before_task(self, request: MessageRequest) -> None:
        """Start the task's CONSUMER span from the headers' context and make it current."""
        try:
            self._start_task(request)
        except Exception:
            log.warning("could not trace message %s of %r; its task runs untraced",
                        request.message_id, request.queue, exc_info=True)  # fmt: skip

    def _start_task(self, request: MessageRequest) -> None:
        extracted = self.propagator.extract(
            request.headers, context=otel_context.Context(), getter=HEADERS
        )
        creation = trace.get_current_span(extracted).get_span_context()
        parent = extracted
        if self.link_only:  # a trace of its own; baggage still comes along
            parent = trace.set_span_in_context(trace.INVALID_SPAN, extracted)
        span = self.tracer.start_span(
            attributes.process_name(request),
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes=attributes.process_attributes(request),
            links=[Link(creation)] if creation.is_valid else None,
        )
        self._task.set((request, span))
        # The delivery's own context, dropped once the delivery is settled: never detached.
        otel_context.attach(trace.set_span_in_context(span, parent))

    def after_task(self, request: MessageRequest, outcome: TaskOutcome) -> None:
        """End the task's span: the outcome, and the error if the task raised."""
        current = self._task.get()
        if current is None or current[0] is not request:  # our before_task never began
            return
        self._task.set(None)
        try:
            _end(current[1], outcome.result, outcome.error, attributes.task_failed(outcome))
        except Exception:
            log.warning("could not end the span of message %s of %r", request.message_id,
                        request.queue, exc_info=True)  # fmt: skip


class HeaderGetter(Getter[Mapping[str, Any]]):
    """Reads a propagator's fields from AMQP headers, whose strings may arrive as bytes."""

    def get(self, carrier: Mapping[str, Any], key: str) -> list[str] | None:
        value = carrier.get(key)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        return [value] if isinstance(value, str) else None

    def keys(self, carrier: Mapping[str, Any]) -> list[str]:
        return [str(key) for key in carrier]


HEADERS = HeaderGetter()


def _key(message: WireMessage) -> Key:
    return (message.message_id, message.exchange, message.routing_key)


def _end(span: Span, outcome: str, error: BaseException | None, failed: str | None) -> None:
    """Set the outcome (and the error, if any) on ``span``, then end it, whatever happens."""
    try:
        span.set_attribute(attributes.OUTCOME, outcome)
        if error is not None:
            span.set_attribute("error.type", attributes.error_type(error))
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, failed))
    finally:
        span.end()


def _end_unreported(span: Span) -> None:
    span.set_attribute(attributes.OUTCOME, "unreported")
    span.set_status(Status(StatusCode.ERROR, "mqwire reported no outcome for this publish"))
    span.end()


def _version() -> str | None:
    try:
        return metadata.version("mqwire")
    except metadata.PackageNotFoundError:
        return None
