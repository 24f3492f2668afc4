"""What a worker consumes for one publisher_consumer; the worker itself lives in ``mserve``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mqwire.topology.model import Queue

from .settings import PublisherConsumerSettings

if TYPE_CHECKING:
    from .config import Configurator


@dataclass(frozen=True)
class ConsumerSpec:
    """The queues of one publisher_consumer and how to reach their broker."""

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
