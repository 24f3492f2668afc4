"""OpenTelemetry tracing for mqwire (``pip install 'mqwire[otel]'``): a span per publish and per
task, and the trace context carried in the message headers from one to the other.

In the topology::

    middleware: ["mqwire.otel:TracingMiddleware"]

or in code, ``load("compiled.ini", middleware=[TracingMiddleware()])``. See
docs/opentelemetry.md. Only this package imports ``opentelemetry``; the core never imports it.
"""

from __future__ import annotations

try:
    import opentelemetry.trace  # noqa: F401  (the API is the one thing this needs)
except ImportError as exc:
    raise ImportError(
        "mqwire.otel needs the OpenTelemetry API: pip install 'mqwire[otel]' "
        "(and opentelemetry-sdk with an exporter to send the spans somewhere)"
    ) from exc

from .middleware import TracingMiddleware

__all__ = ["TracingMiddleware"]
