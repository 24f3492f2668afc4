"""Kept so that compiled INIs naming ``mqwire.runtime.publisher.*`` factories keep loading.

New code imports from ``mqwire.runtime`` (or ``mqwire.runtime.publish``); the factories live in
``mqwire.runtime.wiring.factories``.
"""

from __future__ import annotations

from .publish.amqp import AmqpPublisher
from .publish.base import BATCH_CHUNK, BasePublisher, Batch, Publisher
from .wiring.factories import (
    locally_dispatching_publisher_consumer_factory,
    pika_publisher_factory,
)

__all__ = [
    "BATCH_CHUNK",
    "AmqpPublisher",
    "BasePublisher",
    "Batch",
    "Publisher",
    "locally_dispatching_publisher_consumer_factory",
    "pika_publisher_factory",
]
