"""The RabbitMQ publisher: ``BasePublisher`` sending through a confirmed ``AmqpTransport``.

pika is imported only when one is created (through ``mqwire.runtime.amqp``), so applications
on the local transport never load it.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..client_metrics import ConnectionState, PublisherStats
from ..dispatch import BodyValidator
from ..errors import BatchPublishError, ConfigurationError, PublishError
from ..middleware import Chain
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
        middleware: Chain | None = None,
        stats: PublisherStats | None = None,
        state: ConnectionState | None = None,
    ) -> None:
        """``blocked_timeout``: how long ``publish()`` waits while the broker blocks the
        connection (a resource alarm) before it raises ``PublishBlocked``; 0 fails at once.
        ``fastpath`` defaults to the process's choice (``MQWIRE_FASTPATH``). ``state``: where
        its connection's state is kept (``load()`` passes its registry's; default: its own).
        """
        super().__init__(
            settings, validators, known_queues=known_queues, middleware=middleware, stats=stats
        )
        from ..amqp.transport import AmqpTransport  # pika only once a publisher needs it

        if not settings.url:
            raise ConfigurationError(
                f"{settings.prefix}.url is missing; an amqp publisher needs it"
            )
        name = connection_name(settings.name)
        self.connection_state = state or ConnectionState(name)
        self._transport = AmqpTransport(
            settings.url,
            name=name,
            state=self.connection_state,
            heartbeat=settings.heartbeat,
            confirm_timeout=confirm_timeout,
            fastpath=fastpath,
            blocked_timeout=blocked_timeout,
            tls=settings.tls,
        )

    def send(
        self,
        messages: Sequence[WireMessage],
        *,
        blocked_timeout: float | None = None,
        started: float | None = None,
    ) -> list[PublishError | None]:
        started = time.monotonic() if started is None else started
        outcomes = self._transport.send(messages, blocked_timeout=blocked_timeout)
        self.published(messages, outcomes, started)
        return outcomes

    def flush(self, messages: Sequence[WireMessage]) -> None:
        """Send a batch with up to two chunks awaiting confirms, so the wire never idles."""
        failures: list[tuple[int, PublishError]] = []
        in_flight: collections.deque[tuple[int, float, Sequence[Any]]] = collections.deque()

        def collect_oldest() -> None:
            start, sent, submitted = in_flight.popleft()
            outcomes = self._transport.collect(submitted)
            self.published(messages[start : start + len(outcomes)], outcomes, sent)
            failures.extend((start + i, e) for i, e in enumerate(outcomes) if e is not None)

        try:
            for start in range(0, len(messages), BATCH_CHUNK):
                sent = time.monotonic()
                chunk = self._transport.submit(messages[start : start + BATCH_CHUNK])
                in_flight.append((start, sent, chunk))
                if len(in_flight) > 2:
                    collect_oldest()
        finally:  # an EncodeError still waits for what was sent before it
            while in_flight:
                collect_oldest()
        if failures:
            raise BatchPublishError(failures, published=len(messages) - len(failures))

    def close(self) -> None:
        self._transport.close()


def connection_name(publisher: str) -> str:
    """The ``connection_name`` of a publisher's connection (the management UI shows it)."""
    return f"mqwire-publisher:{publisher}"
