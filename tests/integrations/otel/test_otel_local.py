"""mqwire.otel on the local transport: a web request's trace runs on through the publish into
the task, and from the task into what it publishes; outcomes and failures on the spans."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import otel_app
import pytest
import topology_setup as wiring
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from mqwire.otel import TracingMiddleware
from mqwire.runtime import BatchPublishError, Registry, Unroutable, load

TOPOLOGY = """\
version: 1
publisher_consumers:
  jobs:
    prefix: otel.jobs.mq
    transport: local
    exchange: shop
    routes: {"orders.*": orders, "audit": audit}
queues:
  plain: {consumer: jobs, retry: {delays: [1]}}
  coro: {consumer: jobs, retry: {delays: [1]}}
  orders: {consumer: jobs}
  audit: {consumer: jobs}
tasks:
  plain: {task: "otel_app:work", queue: plain}
  coro: {task: "otel_app:work_async", queue: coro}
  orders: {task: "otel_app:work", queue: orders}
  audit: {task: "otel_app:work", queue: audit}
"""


@pytest.fixture(scope="module")
def ini(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return wiring.compile_into(tmp_path_factory.mktemp("otel"), TOPOLOGY)


@pytest.fixture
def tracing(provider: TracerProvider) -> TracingMiddleware:
    return TracingMiddleware(tracer_provider=provider)


@pytest.fixture
def registry(ini: Path, tracing: TracingMiddleware, provider: TracerProvider) -> Iterator[Registry]:
    otel_app.SEEN.clear()
    otel_app.APP[:] = [provider.get_tracer("app")]
    with load(ini, middleware=[tracing]) as made:
        yield made
    otel_app.APP.clear()
    otel_app.SEEN.clear()


def named(spans: Sequence[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [span for span in spans if span.name == name]


def one(spans: Sequence[ReadableSpan], name: str) -> ReadableSpan:
    (found,) = named(spans, name)
    return found


def ids(span: ReadableSpan) -> tuple[int, int]:
    """(trace id, span id)."""
    context = span.get_span_context()
    assert context is not None
    return context.trace_id, context.span_id


def is_child(span: ReadableSpan, parent: ReadableSpan) -> bool:
    """``span``'s parent is ``parent``, in the same trace."""
    return span.parent is not None and (span.parent.trace_id, span.parent.span_id) == ids(parent)


@pytest.mark.parametrize("queue", ["plain", "coro"])
def test_a_web_request_traces_on_through_the_task_and_what_the_task_publishes(
    registry: Registry, tracing: TracingMiddleware, exporter: InMemorySpanExporter, queue: str
) -> None:
    with tracing.tracer.start_as_current_span("GET /order", kind=SpanKind.SERVER) as request:
        registry.publisher("jobs").publish(
            {"id": 1, "then": [["audit", {"id": 2}]]}, routing_key=queue, exchange=""
        )
        assert trace.get_current_span() is request, "publishing leaves the request's span current"
    spans = exporter.get_finished_spans()
    server = one(spans, "GET /order")
    publish = one(spans, f"publish {queue}")
    process = one(spans, f"process {queue}")
    (inner,) = [span for span in named(spans, "inner") if is_child(span, process)]
    follow_up = one(spans, "publish shop")
    follow_process = one(spans, "process audit")

    assert publish.kind is SpanKind.PRODUCER and process.kind is SpanKind.CONSUMER
    assert is_child(publish, server)
    assert is_child(process, publish), "the task continues the publish's trace"
    assert [link.context.span_id for link in process.links] == [ids(publish)[1]]
    assert otel_app.SEEN[0] == (queue, 1, 1, ids(process)[1]), "current inside the task"
    assert is_child(follow_up, inner), "so is what the task publishes (inside its own span)"
    assert is_child(follow_process, follow_up)
    assert {ids(span)[0] for span in spans} == {ids(server)[0]}, "one trace from end to end"

    message_id = process.attributes["messaging.message.id"]
    assert dict(publish.attributes or {}) == {
        "messaging.system": "rabbitmq",
        "messaging.operation.name": "publish",
        "messaging.operation.type": "send",
        "messaging.destination.name": queue,  # the default exchange: the queue it addresses
        "messaging.rabbitmq.destination.routing_key": queue,
        "messaging.message.id": message_id,
        "messaging.message.body.size": publish.attributes["messaging.message.body.size"],
        "mqwire.outcome": "confirmed",
    }
    assert dict(process.attributes or {}) == {
        "messaging.system": "rabbitmq",
        "messaging.operation.name": "process",
        "messaging.operation.type": "process",
        "messaging.destination.name": queue,
        "messaging.rabbitmq.destination.routing_key": queue,
        "messaging.message.id": message_id,
        "messaging.message.body.size": publish.attributes["messaging.message.body.size"],
        "mqwire.task": queue,
        "mqwire.attempt": 1,
        "mqwire.outcome": "ack",
    }
    assert follow_up.attributes["messaging.destination.name"] == "shop"
    assert follow_up.attributes["messaging.rabbitmq.destination.routing_key"] == "audit"
    assert process.status.status_code is StatusCode.UNSET


def test_a_failing_task_s_spans_have_the_error_and_each_attempt_its_outcome(
    registry: Registry, tracing: TracingMiddleware, exporter: InMemorySpanExporter
) -> None:
    with tracing.tracer.start_as_current_span("web"):
        registry.publisher("jobs").publish({"id": 1, "fail": 1}, routing_key="plain", exchange="")
        with pytest.raises(ValueError, match="fails on attempt 2"):
            registry.publisher("jobs").publish(
                {"id": 2, "fail": 2}, routing_key="coro", exchange=""
            )
    spans = exporter.get_finished_spans()
    first, second = named(spans, "process plain")
    assert [s.attributes["mqwire.attempt"] for s in (first, second)] == [1, 2]
    assert first.attributes["mqwire.outcome"] == "retry"
    assert first.status.status_code is StatusCode.ERROR
    assert first.status.description == "ValueError: message 1 fails on attempt 1"
    assert first.attributes["error.type"] == "ValueError"
    (event,) = first.events
    assert event.name == "exception"
    assert event.attributes["exception.type"] == "ValueError"
    assert second.attributes["mqwire.outcome"] == "ack"
    assert second.status.status_code is StatusCode.UNSET and not second.events
    publish = one(spans, "publish plain")
    assert is_child(first, publish) and is_child(second, publish), "a retry keeps the headers"

    retried, dead = named(spans, "process coro")
    assert retried.attributes["mqwire.outcome"] == "retry"
    assert dead.attributes["mqwire.outcome"] == "dead-letter"
    assert dead.status.status_code is StatusCode.ERROR
    assert one(spans, "publish coro").attributes["mqwire.outcome"] == "confirmed"


def test_a_failed_publish_ends_its_span_with_the_error(
    registry: Registry, tracing: TracingMiddleware, exporter: InMemorySpanExporter
) -> None:
    with pytest.raises(Unroutable):
        registry.publisher("jobs").publish({"id": 1}, routing_key="nowhere.at.all")
    (span,) = exporter.get_finished_spans()
    assert span.name == "publish shop"
    assert span.status.status_code is StatusCode.ERROR
    assert "NO_ROUTE" in (span.status.description or "")
    assert span.attributes["mqwire.outcome"] == "returned"
    assert span.attributes["error.type"] == "mqwire.runtime.errors.Unroutable"
    assert span.parent is None, "no span was current: a trace of its own"
    assert len(tracing._publishing) == 0


def test_a_batch_has_a_span_per_message_each_continued_by_its_own_task(
    registry: Registry, tracing: TracingMiddleware, exporter: InMemorySpanExporter
) -> None:
    publisher = registry.publisher("jobs")
    with (
        pytest.raises(BatchPublishError, match="1 of 4"),
        tracing.tracer.start_as_current_span("web"),
        publisher.batch(),
    ):
        for n in range(3):
            publisher.publish({"id": n}, routing_key="orders.new")
        publisher.publish({"id": 9}, routing_key="unrouted")
        assert exporter.get_finished_spans() == (), "nothing sent before the block ends"
    spans = exporter.get_finished_spans()
    publishes = named(spans, "publish shop")
    processes = named(spans, "process orders")
    assert len(publishes) == 4 and len(processes) == 3
    server = one(spans, "web")
    assert all(is_child(span, server) for span in publishes)
    for process in processes:
        (parent,) = [p for p in publishes if is_child(process, p)]
        assert (
            parent.attributes["messaging.message.id"] == process.attributes["messaging.message.id"]
        )
    outcomes = sorted(p.attributes["mqwire.outcome"] for p in publishes)
    assert outcomes == ["confirmed", "confirmed", "confirmed", "returned"]
    assert len(tracing._publishing) == 0


def test_link_only_starts_each_task_in_a_trace_of_its_own_linked_to_the_publish(
    ini: Path, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    tracing = TracingMiddleware(tracer_provider=provider, link_only=True)
    with load(ini, middleware=[tracing]) as registry, tracing.tracer.start_as_current_span("web"):
        registry.publisher("jobs").publish({"id": 1}, routing_key="plain", exchange="")
    spans = exporter.get_finished_spans()
    publish, process = one(spans, "publish plain"), one(spans, "process plain")
    assert process.parent is None
    assert ids(process)[0] != ids(publish)[0]
    (link,) = process.links
    assert (link.context.trace_id, link.context.span_id) == ids(publish)
