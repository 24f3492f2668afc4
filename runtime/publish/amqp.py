"""The RabbitMQ publisher: ``BasePublisher`` sending through a confirmed ``AmqpTransport``.

pika is imported only when one is created (through ``mqwire.runtime.amqp``), so applications
on the local transport never load it.
"""

from __future__ import annotations

import collections
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..dispatch import BodyValidator
from ..errors import BatchPublishError, ConfigurationError, PublishError
from ..settings import PublisherConsumerSettings
from ..wire import WireMessage
from .base import BATCH_CHUNK, BasePublisher

if TYPE_CHECKING:
    from .._fastpath.switch import Fastpath


class AmqpPublisher(BasePublisher):
    """Publishes to RabbitMQ over one long-lived connection, with confirms and ``mandatory``."""

    def __init__(
        self,
        settings: PublisherConsumerSettings,
        validators: Mapping[str, BodyValidator] | None = None,
        *,
        known_queues: Sequence[str] = (),
        confirm_timeout: float = 30.0,
        blocked_timeout: float = 0.0,
        fastpath: Fastpath | None = None,
    ) -> None:
        """``blocked_timeout``: how long ``publish()`` waits while the broker blocks the
        connection (a resource alarm) before it raises ``PublishBlocked``; 0 fails at once.
        ``fastpath`` defaults to the process's choice (``MQWIRE_FASTPATH``)."""
        super().__init__(settings, validators, known_queues=known_queues)
        from ..amqp.transport import AmqpTransport  # pika only once a publisher needs it

        if not settings.url:
            raise ConfigurationError(
                f"{settings.prefix}.url is missing; an amqp publisher needs it"
            )
        self._transport = AmqpTransport(
            settings.url,
            name=f"mqwire-publisher:{settings.name}",
            heartbeat=settings.heartbeat,
            confirm_timeout=confirm_timeout,
            fastpath=fastpath,
            blocked_timeout=blocked_timeout,
        )

    def send(
        self, messages: Sequence[WireMessage], *, blocked_timeout: float | None = None
    ) -> list[PublishError | None]:
        return self._transport.send(messages, blocked_timeout=blocked_timeout)

    def flush(self, messages: Sequence[WireMessage]) -> None:
        """Send a batch with up to two chunks awaiting confirms, so the wire never idles."""
        failures: list[tuple[int, PublishError]] = []
        in_flight: collections.deque[tuple[int, Sequence[Any]]] = collections.deque()

        def collect_oldest() -> None:
            start, submitted = in_flight.popleft()
            outcomes = self._transport.collect(submitted)
            failures.extend((start + i, e) for i, e in enumerate(outcomes) if e is not None)

        try:
            for start in range(0, len(messages), BATCH_CHUNK):
                in_flight.append(
                    (start, self._transport.submit(messages[start : start + BATCH_CHUNK]))
                )
                if len(in_flight) > 2:
                    collect_oldest()
        finally:  # an EncodeError still waits for what was sent before it
            while in_flight:
                collect_oldest()
        if failures:
            raise BatchPublishError(failures, published=len(messages) - len(failures))

    def close(self) -> None:
        self._transport.close()
