"""Tasks and middleware factories for mqwire.otel's tests (local transport and mserve).

The tasks note the span current while they run, start a span of their own, and publish each
``then`` ``[routing key, body]``; ``mserve`` is another process, so ``tracing`` there exports
each span as one JSON line to the file ``MQWIRE_TEST_SPANS`` names.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Sequence
from typing import Any

import middleware_app
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from mqwire.otel import TracingMiddleware
from mqwire.runtime import MessageRequest

#: (queue, id, attempt, span id current in the task), per task run.
SEEN: list[tuple[str, Any, int, int]] = []
#: The tracer the tasks start their own span with (the test's provider), while a test runs.
APP: list[trace.Tracer] = []


def work(context: Any, request: MessageRequest) -> None:
    """Notes its current span, then runs ``middleware_app.work`` (each ``then`` published, a
    failure while the attempt is at most ``fail``) inside a span of its own."""
    current = trace.get_current_span().get_span_context()
    SEEN.append((request.queue, request.params.get("id"), request.attempt, current.span_id))
    with APP[0].start_as_current_span("inner") if APP else contextlib.nullcontext():
        middleware_app.work(context, request)


async def work_async(context: Any, request: MessageRequest) -> None:
    await asyncio.sleep(0)
    work(context, request)


class JsonLines(SpanExporter):
    """Appends each finished span to a file as one JSON line (one ``write``, ``O_APPEND``)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        for span in spans:
            line = json.dumps(as_dict(span)) + "\n"
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode())
            finally:
                os.close(fd)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


def as_dict(span: ReadableSpan) -> dict[str, Any]:
    context = span.get_span_context()
    assert context is not None
    return {
        "pid": os.getpid(),
        "name": span.name,
        "kind": span.kind.name,
        "trace_id": f"{context.trace_id:032x}",
        "span_id": f"{context.span_id:016x}",
        "parent": f"{span.parent.span_id:016x}" if span.parent else None,
        "links": [f"{link.context.span_id:016x}" for link in span.links],
        "status": span.status.status_code.name,
        "attributes": dict(span.attributes or {}),
        "events": [event.name for event in span.events],
    }


def tracing() -> TracingMiddleware:
    """The topology's middleware factory: spans exported to ``MQWIRE_TEST_SPANS``."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(JsonLines(os.environ["MQWIRE_TEST_SPANS"])))
    return TracingMiddleware(tracer_provider=provider)
