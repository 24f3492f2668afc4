"""The factories a compiled INI names: what each publisher_consumer is built from.

``PREFIX = <factory> ...`` lists dotted names of these (through the shims
``mqwire.runtime.consumer`` and ``mqwire.runtime.publisher``, the names compiled INIs carry).
Each takes the ``Configurator`` and the settings prefix and returns one component.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from mqwire.topology.model import Queue

from ..publish.amqp import AmqpPublisher, connection_name
from ..settings import PublisherConsumerSettings
from .configurator import Configurator

if TYPE_CHECKING:  # imported by its factory: a worker on RabbitMQ never needs it
    from ..publish.local_publisher import LocalPublisherConsumer


class ConsumerSpec(NamedTuple):
    """The queues of one publisher_consumer and how to reach their broker; what mserve serves."""

    settings: PublisherConsumerSettings
    queues: tuple[Queue, ...]

    @property
    def name(self) -> str:
        return self.settings.name


def pika_client_factory(config: Configurator, prefix: str) -> ConsumerSpec:
    """The consuming side of an amqp publisher_consumer, for ``mserve``."""
    settings = config.settings_for(prefix)
    queues = config.queues()
    return ConsumerSpec(
        settings,
        tuple(q for q in queues.values() if q.consumer == settings.name),
    )


def pika_publisher_factory(config: Configurator, prefix: str) -> AmqpPublisher:
    """The RabbitMQ publisher of the publisher_consumer at ``prefix``, with the registry's
    middleware, its stats and connection state kept in the registry's metrics."""
    settings, registry = config.settings_for(prefix), config.registry
    return AmqpPublisher(
        settings,
        config.body_validators(),
        known_queues=config.queue_names(),
        middleware=registry.middleware,
        stats=registry.metrics.publisher(settings.name),
        delays=registry.delays,
        state=registry.metrics.connection(connection_name(settings.name)),
    )


def locally_dispatching_publisher_consumer_factory(
    config: Configurator, prefix: str
) -> LocalPublisherConsumer:
    """An in-process publisher that runs the matching tasks itself (no broker)."""
    from ..publish.local_publisher import LocalPublisherConsumer

    settings, registry = config.settings_for(prefix), config.registry
    return LocalPublisherConsumer(
        settings,
        config.body_validators(),
        known_queues=[*config.queue_names(), *registry.failure_queues],
        broker=registry.local_broker,
        exchanges=config.exchange_routes(),
        middleware=registry.middleware,
        stats=registry.metrics.publisher(settings.name),
        delays=registry.delays,
    )
