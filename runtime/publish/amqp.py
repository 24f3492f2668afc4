"""The RabbitMQ publisher: ``BasePublisher`` sending through a confirmed ``AmqpTransport``.

pika is imported only when one is created (through ``mqwire.runtime.amqp``), so applications
on the local transport never load it.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Mapping, Sequence
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
    from ..amqp.transport import AmqpTransport


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
        delays: bool = False,
        state: ConnectionState | None = None,
    ) -> None:
        """``blocked_timeout``: how long ``publish()`` waits while the broker blocks the
        connection (a resource alarm) before it raises ``PublishBlocked``; 0 fails at once.
        ``fastpath`` defaults to the process's choice (``MQWIRE_FASTPATH``). ``state``: where
        its connection's state is kept (``load()`` passes its registry's; default: its own).
        """
        super().__init__(
            settings, validators, known_queues=known_queues, middleware=middleware, stats=stats,
            delays=delays,
        )  # fmt: skip
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

    async def asend(
        self,
        messages: Sequence[WireMessage],
        *,
        blocked_timeout: float | None = None,
        started: float | None = None,
    ) -> list[PublishError | None]:
        """``send`` without blocking the running event loop: the confirms are awaited."""
        started = time.monotonic() if started is None else started
        submitted = self._transport.submit(messages, blocked_timeout=blocked_timeout, lock_wait=0)
        outcomes = await self._transport.acollect(submitted)
        self.published(messages, outcomes, started)
        return outcomes

    def flush(self, messages: Sequence[WireMessage]) -> None:
        """Send a batch with up to two chunks awaiting confirms, so the wire never idles."""
        pipeline = _Pipeline(self._transport, self.published, messages)
        try:
            for start in range(0, len(messages), BATCH_CHUNK):
                if pipeline.submit(start):
                    pipeline.collected(self._transport.collect(pipeline.oldest()))
        finally:  # an EncodeError still waits for what was sent before it
            while pipeline.in_flight:
                pipeline.collected(self._transport.collect(pipeline.oldest()))
        pipeline.check()

    async def aflush(self, messages: Sequence[WireMessage]) -> None:
        """``flush`` for coroutines: the same pipeline, its confirms awaited."""
        pipeline = _Pipeline(self._transport, self.published, messages)
        try:
            for start in range(0, len(messages), BATCH_CHUNK):
                if pipeline.submit(start, lock_wait=0):
                    pipeline.collected(await self._transport.acollect(pipeline.oldest()))
        finally:
            while pipeline.in_flight:
                pipeline.collected(await self._transport.acollect(pipeline.oldest()))
        pipeline.check()

    def close(self) -> None:
        self._transport.close()


class _Pipeline:
    """A batch on its way: chunks submitted, at most two more awaiting confirms than are
    being collected, and the failures so far (shared by ``flush`` and ``aflush``)."""

    def __init__(
        self,
        transport: AmqpTransport,
        published: Callable[[Sequence[WireMessage], list[PublishError | None], float], None],
        messages: Sequence[WireMessage],
    ) -> None:
        self.transport = transport
        self.published = published
        self.messages = messages
        self.failures: list[tuple[int, PublishError]] = []
        self.in_flight: collections.deque[tuple[int, float, Sequence[Any]]] = collections.deque()

    def submit(self, start: int, **options: Any) -> bool:
        """Send the chunk at ``start``; True when the oldest chunk must be collected now."""
        chunk = self.messages[start : start + BATCH_CHUNK]
        sent = time.monotonic()
        self.in_flight.append((start, sent, self.transport.submit(chunk, **options)))
        return len(self.in_flight) > 2

    def oldest(self) -> Sequence[Any]:
        return self.in_flight[0][2]

    def collected(self, outcomes: list[PublishError | None]) -> None:
        """The oldest chunk's outcomes: counted, and its failures kept."""
        start, sent, _submitted = self.in_flight.popleft()
        self.published(self.messages[start : start + len(outcomes)], outcomes, sent)
        self.failures.extend((start + i, e) for i, e in enumerate(outcomes) if e is not None)

    def check(self) -> None:
        if self.failures:
            published = len(self.messages) - len(self.failures)
            raise BatchPublishError(self.failures, published=published)


def connection_name(publisher: str) -> str:
    """The ``connection_name`` of a publisher's connection (the management UI shows it)."""
    return f"mqwire-publisher:{publisher}"
