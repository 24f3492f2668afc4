"""mqwire.otel's hooks on their own: reading the headers, coping when another middleware or
OpenTelemetry itself fails, the spans waiting for their outcome, and importing it."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import otel_app
import pytest
import topology_setup as wiring
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagators.textmap import TextMapPropagator
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from test_otel_local import TOPOLOGY, ids, one

from mqwire.otel import TracingMiddleware
from mqwire.otel.open_spans import OpenSpans
from mqwire.runtime import MessageRequest, Middleware, TaskOutcome, load
from mqwire.runtime.middleware import Chain, TaskHooks
from mqwire.runtime.wire import WireMessage

TRACE_ID = 0x0AF7651916CD43DD8448EB211C80319C
SPAN_ID = 0xB7AD6B7169203331
TRACEPARENT = f"00-{TRACE_ID:032x}-{SPAN_ID:016x}-01"


@pytest.fixture(scope="module")
def ini(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return wiring.compile_into(tmp_path_factory.mktemp("otel-hooks"), TOPOLOGY)


@pytest.fixture(autouse=True)
def seen() -> Iterator[list[tuple[str, Any, int, int]]]:
    otel_app.SEEN.clear()
    yield otel_app.SEEN
    otel_app.SEEN.clear()


def request(headers: Mapping[str, Any]) -> MessageRequest:
    return MessageRequest(
        body=b"{}", params={}, json={}, content_type="application/json", headers=headers,
        properties={"headers": headers}, routing_key="plain", exchange="", queue="plain",
        task_name="plain", message_id="m1", delivery_tag=7,
    )  # fmt: skip


def run_task(tracing: Middleware, made: MessageRequest, result: str = "ack") -> int:
    """Run the task hooks around a task as the worker does; the span id current in the task."""
    hooks = TaskHooks(Chain([tracing]), made)
    current = hooks.call(lambda: trace.get_current_span().get_span_context().span_id)
    hooks.after(TaskOutcome(result))
    return current


@pytest.mark.parametrize("value", [TRACEPARENT, TRACEPARENT.encode()], ids=["str", "bytes"])
def test_the_task_span_continues_the_trace_the_headers_carry_as_str_or_bytes(
    provider: TracerProvider, exporter: InMemorySpanExporter, value: str | bytes
) -> None:
    current = run_task(TracingMiddleware(provider), request({"traceparent": value}))
    (span,) = exporter.get_finished_spans()
    assert span.parent is not None and span.parent.is_remote
    assert (span.parent.trace_id, span.parent.span_id) == (TRACE_ID, SPAN_ID)
    assert [(link.context.trace_id, link.context.span_id) for link in span.links] == [
        (TRACE_ID, SPAN_ID)
    ]
    assert current == ids(span)[1]
    assert span.attributes["messaging.rabbitmq.message.delivery_tag"] == 7


def test_without_a_trace_context_the_task_span_is_a_root_whatever_is_current_around_it(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    tracing = TracingMiddleware(provider)
    with tracing.tracer.start_as_current_span("around"):  # a local publish's caller
        run_task(tracing, request({"x-other": 1}))
    task = one(exporter.get_finished_spans(), "process plain")
    assert task.parent is None and task.links == ()


def test_without_an_sdk_the_callers_context_still_travels_in_the_headers() -> None:
    """No tracer provider is set in these tests: the global one makes no spans, yet a remote
    parent (a request that came in traced) reaches the message, and the task's context."""
    tracing = TracingMiddleware()
    upstream = TraceContextTextMapPropagator().extract({"traceparent": TRACEPARENT})
    token = otel_context.attach(upstream)
    try:
        sent = tracing.before_publish(WireMessage("", "plain", b"{}", "m1"))
    finally:
        otel_context.detach(token)
    assert sent is not None and sent.properties["headers"]["traceparent"] == TRACEPARENT
    assert run_task(tracing, request(sent.properties["headers"])) == SPAN_ID


class Broken(TextMapPropagator):
    """A propagator that fails on every call."""

    def inject(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("inject is broken")

    def extract(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("extract is broken")

    @property
    def fields(self) -> set[str]:
        return {"traceparent"}


class BrokenTracer(trace.NoOpTracer):
    def start_span(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("start_span is broken")


class BrokenProvider(trace.NoOpTracerProvider):
    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        return BrokenTracer()


@pytest.mark.parametrize(
    "make",
    [
        lambda provider: TracingMiddleware(provider, Broken()),
        lambda provider: TracingMiddleware(BrokenProvider()),
    ],
    ids=["propagator", "tracer"],
)
def test_opentelemetry_failing_never_fails_a_publish_or_a_task(
    ini: Path, provider: TracerProvider, make: Any, caplog: pytest.LogCaptureFixture,
    seen: list[tuple[str, Any, int, int]],
) -> None:  # fmt: skip
    tracing = make(provider)
    with caplog.at_level(logging.WARNING, "mqwire.otel"), load(ini, middleware=[tracing]) as reg:
        reg.publisher("jobs").publish({"id": 1}, routing_key="plain", exchange="")
    assert [(queue, id_) for queue, id_, _, _ in seen] == [("plain", 1)]
    publish, task = caplog.records  # one warning each, nothing raised
    assert publish.getMessage().endswith("sent untraced")
    assert task.getMessage().endswith("its task runs untraced")
    assert "broken" in str(task.exc_info[1])
    assert len(tracing._publishing) == 0


class FailsBeforeTask(Middleware):
    def before_task(self, request: MessageRequest) -> None:
        raise RuntimeError("no")


def test_when_an_earlier_before_task_fails_ours_never_began_and_after_task_lets_it_be(
    ini: Path, provider: TracerProvider, exporter: InMemorySpanExporter,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    tracing = TracingMiddleware(provider)
    with load(ini, middleware=[FailsBeforeTask(), tracing]) as registry:
        with pytest.raises(RuntimeError, match="no"):  # the hook's failure is the task's
            registry.publisher("jobs").publish({"id": 1}, routing_key="audit")
        assert registry.publisher("jobs").dead_letters
    assert [span.name for span in exporter.get_finished_spans()] == ["publish shop"]
    assert not [r for r in caplog.records if r.name == "mqwire.otel"]


class FailsBeforePublish(Middleware):
    def before_publish(self, message: WireMessage) -> WireMessage:
        raise RuntimeError("no")


def test_spans_of_publishes_that_never_ended_are_given_up_past_the_limit(
    ini: Path, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    tracing = TracingMiddleware(provider)
    tracing._publishing = OpenSpans(limit=2)
    with load(ini, middleware=[tracing, FailsBeforePublish()]) as registry:
        for n in range(3):
            with pytest.raises(RuntimeError):
                registry.publisher("jobs").publish({"id": n}, routing_key="audit")
    (given_up,) = exporter.get_finished_spans()
    assert given_up.attributes["mqwire.outcome"] == "unreported"
    assert given_up.status.status_code is StatusCode.ERROR
    assert len(tracing._publishing) == 2


def test_open_spans_pair_equal_keys_first_in_first_out_and_hand_back_the_oldest() -> None:
    spans: OpenSpans[str] = OpenSpans(limit=3)
    key, other = ("m1", "", "q"), ("m2", "", "q")
    assert spans.add(key, "a") is None and spans.add(other, "b") is None
    assert spans.add(key, "c") is None
    assert spans.add(other, "d") == "a", "over the limit: the oldest comes back"
    assert len(spans) == 3
    assert (spans.pop(key), spans.pop(key), spans.pop(key)) == ("c", None, None)
    assert (spans.pop(other), spans.pop(other)) == ("b", "d")
    assert len(spans) == 0


def test_without_the_api_importing_mqwire_otel_says_what_to_install() -> None:
    script = "import sys; sys.modules['opentelemetry'] = None; import mqwire.otel"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 1
    assert "ImportError: mqwire.otel needs the OpenTelemetry API: pip install 'mqwire[otel]'" in (
        done.stderr
    )


def test_a_propagator_given_is_the_one_used(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    class Custom(TraceContextTextMapPropagator):
        def inject(self, carrier: Any, context: Any = None, setter: Any = None) -> None:
            carrier["x-custom"] = "yes"

    tracing = TracingMiddleware(provider, Custom())
    sent = tracing.before_publish(WireMessage("", "plain", b"{}", "m1"))
    assert sent is not None and sent.properties["headers"] == {"x-custom": "yes"}
    tracing.after_publish(sent, None, 0.0)
    (span,) = exporter.get_finished_spans()
    assert span.attributes["mqwire.outcome"] == "confirmed"


def test_a_traceparent_in_the_given_headers_is_replaced_by_the_publish_span(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    tracing = TracingMiddleware(provider)
    given = WireMessage("", "plain", b"{}", "m1", {"headers": {"traceparent": TRACEPARENT}})
    sent = tracing.before_publish(given)
    assert sent is not None
    tracing.after_publish(sent, None, 0.0)
    (span,) = exporter.get_finished_spans()
    trace_id, span_id = ids(span)
    assert sent.properties["headers"]["traceparent"][:-3] == f"00-{trace_id:032x}-{span_id:016x}"
    assert span.parent is None, "the publish starts from the caller's context, not the header"
