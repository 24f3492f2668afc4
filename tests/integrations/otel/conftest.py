"""mqwire.otel's tests need the OpenTelemetry SDK (the `test` extra): skipped without it
locally, failing in CI."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mqwire.testing import import_or_skip

import_or_skip("opentelemetry.sdk", install="pip install -e '.[test]'")

from opentelemetry.sdk.trace import TracerProvider  # noqa: E402  (only once it is known there)
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    """Where ``provider``'s spans end up, in the order they ended."""
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    """A tracer provider of the test's own, passed in: the global one is never set."""
    made = TracerProvider()
    made.add_span_processor(SimpleSpanProcessor(exporter))
    yield made
    made.shutdown()
