"""A registry's publisher and connection metrics through prometheus_client (``mqwire[prometheus]``).

For web applications, which already expose prometheus_client's registry on their own
``/metrics``. Register a collector over the application's mqwire registry once::

    import prometheus_client
    from mqwire.runtime.prometheus import MqwireCollector

    prometheus_client.REGISTRY.register(MqwireCollector(registry))

It yields the very families ``mserve --http`` writes by hand (``client_metrics``), read at each
scrape: the same names, labels and values. Only this module imports prometheus_client.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from .client_metrics import ClientMetrics
from .exposition import Family

if TYPE_CHECKING:
    from .wiring.registry import Registry

__all__ = ["MqwireCollector", "to_metric"]


class MqwireCollector(Collector):
    """Collects ``registry.metrics`` (connection states, publish outcomes and latency)."""

    def __init__(self, registry: Registry | ClientMetrics) -> None:
        self._metrics = registry if isinstance(registry, ClientMetrics) else registry.metrics

    def collect(self) -> Iterator[Metric]:
        for family in self._metrics.families():
            yield to_metric(family)


def to_metric(family: Family) -> Metric:
    """prometheus_client's form of ``family``: a counter is named without its ``_total``."""
    name = family.name
    if family.kind == "counter":
        name = name.removesuffix("_total")
    metric = Metric(name, family.help, family.kind)
    for sample in family.samples:
        metric.add_sample(sample.name, dict(sample.labels), sample.value)
    return metric
