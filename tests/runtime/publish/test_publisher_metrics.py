"""A publisher from ``load()`` on the real broker: its outcomes (confirmed, nacked, returned),
latency and connection state are counted in the registry's metrics, a middleware sees each
publish after its confirm, and prometheus_client exposes what ``mserve`` would."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import topology_setup as wiring
from mserve_harness import get_all
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from mqwire.runtime import Middleware, PublishNacked, Registry, Unroutable, load
from mqwire.runtime.client_metrics import outcome_of
from mqwire.runtime.prometheus import MqwireCollector
from mqwire.runtime.wire import WireMessage

TOPOLOGY = """\
version: 1
connections:
  main: {url: "${AMQP_URL}"}
publisher_consumers:
  web:
    prefix: web.mq
    transport: amqp
    connection: main
queues:
  work: {consumer: web}
  full: {consumer: web, arguments: {x-max-length: 1, x-overflow: reject-publish}}
"""
CONNECTION = "mqwire-publisher:web"


class Seen(Middleware):
    """What ``after_publish`` was told, and whether ``before_publish``'s header went out."""

    def __init__(self) -> None:
        self.published: list[tuple[str, str, float]] = []

    def before_publish(self, message: WireMessage) -> WireMessage:
        return message.with_headers({"x-test-trace": "abc"})

    def after_publish(self, message: WireMessage, error: Any, seconds: float) -> None:
        self.published.append((message.routing_key, outcome_of(error), seconds))


@pytest.fixture
def registry(tmp_path: Path, vhost_url: str) -> Iterator[Registry]:
    ini = wiring.compile_into(tmp_path, TOPOLOGY)
    registry = load(ini, environ={"AMQP_URL": vhost_url}, middleware=[Seen()])
    wiring.declare(vhost_url, registry)
    yield registry
    registry.close()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a text exposition, by name and sorted labels."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def state(registry: Registry) -> str:
    """The state the publisher's connection is in, as ``/metrics`` would say."""
    (labels,) = [
        labels
        for (metric, labels), value in samples(registry.metrics.render()).items()
        if metric == "mqwire_connection_state" and value == 1
        and ("connection", CONNECTION) in labels
    ]  # fmt: skip
    return dict(labels)["state"]


def test_confirms_nacks_and_returns_are_counted_with_their_latency(
    registry: Registry, vhost_url: str
) -> None:
    publisher = registry.publisher("web")
    assert state(registry) == "idle", "a publisher connects on its first publish"
    publisher.publish({"n": 1}, "work")
    publisher.publish({"n": 2}, "full")  # the queue's one place
    assert state(registry) == "connected"
    with pytest.raises(PublishNacked):
        publisher.publish({"n": 3}, "full")  # reject-publish: basic.nack
    with pytest.raises(Unroutable):
        publisher.publish({"n": 4}, "nowhere")  # mandatory, no such queue: basic.return
    seen = registry.middleware.middleware[0]
    assert isinstance(seen, Seen)
    assert [(key, outcome) for key, outcome, _ in seen.published] == [
        ("work", "confirmed"), ("full", "confirmed"), ("full", "nacked"),
        ("nowhere", "returned"),
    ]  # fmt: skip
    assert all(0 < seconds < 30 for _, _, seconds in seen.published)
    ((properties, _),) = get_all(vhost_url, "work")
    assert properties.headers == {"x-test-trace": "abc"}, "before_publish's header went out"

    exposed = samples(registry.metrics.render())
    outcomes = {
        dict(labels)["outcome"]: value
        for (name, labels), value in exposed.items()
        if name == "mqwire_published_total"
    }
    assert outcomes == {
        "confirmed": 2, "nacked": 1, "returned": 1, "blocked": 0, "timeout": 0,
        "connection": 0, "error": 0,
    }  # fmt: skip
    web = (("publisher", "web"),)
    assert exposed[("mqwire_publish_seconds_count", web)] == 4
    assert exposed[("mqwire_publish_seconds_sum", web)] == pytest.approx(
        sum(seconds for _, _, seconds in seen.published), abs=0.01
    )
    assert exposed[("mqwire_connection_losses_total", (("connection", CONNECTION),))] == 0
    registry.close()
    assert state(registry) == "closed"


def test_prometheus_client_exposes_the_same_series_as_mserve(registry: Registry) -> None:
    registry.publisher("web").publish({"n": 1}, "work")
    collectors = CollectorRegistry()
    collectors.register(MqwireCollector(registry))
    exposed = generate_latest(collectors).decode()
    assert samples(exposed) == samples(registry.metrics.render())
    assert "# TYPE mqwire_published_total counter" in exposed
    assert 'mqwire_connection_state{connection="mqwire-publisher:web",state="connected"} 1.0' in (
        exposed
    )
