"""The local transport's publisher: ``publish()`` routes as RabbitMQ would, then runs the tasks.

It refuses what the broker refuses (an unroutable mandatory publish, an exchange the topology
does not declare) and hands everything else to the :class:`~.local.LocalBroker` it shares with
the registry's other local publishers, which runs the tasks in FIFO order.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..client_metrics import PublisherStats
from ..dispatch import BodyValidator, Delivery
from ..errors import BatchPublishError, PublishConnectionError, PublishError, Unroutable
from ..middleware import Chain
from ..settings import PublisherConsumerSettings
from ..wire import WireMessage
from .base import BasePublisher
from .delay import undelayed
from .local import DeadLetter, LocalBroker


class LocalPublisherConsumer(BasePublisher):
    """A publisher whose ``publish()`` runs the matching tasks before it returns."""

    def __init__(
        self,
        settings: PublisherConsumerSettings,
        validators: Mapping[str, BodyValidator] | None = None,
        *,
        known_queues: Sequence[str] = (),
        broker: LocalBroker,
        exchanges: Mapping[str, Callable[[str], tuple[str, ...]]] | None = None,
        middleware: Chain | None = None,
        stats: PublisherStats | None = None,
        delays: bool = False,
    ) -> None:
        super().__init__(
            settings, validators, known_queues=known_queues, middleware=middleware, stats=stats,
            delays=delays,
        )  # fmt: skip
        self.broker = broker
        self.exchanges = dict(exchanges or {})

    def target_queues(self, exchange: str, routing_key: str) -> tuple[str, ...]:
        """Without an exchange, a local publisher routes by its routes and by queue name."""
        if exchange == self.exchange:
            queues = set(self.routes.queues_for(routing_key))
            if not exchange and routing_key in self.known_queues:
                queues.add(routing_key)
            return tuple(sorted(queues))
        if exchange in self.exchanges:
            return self.exchanges[exchange](routing_key)
        return super().target_queues(exchange, routing_key)

    def send(
        self,
        messages: Sequence[WireMessage],
        *,
        blocked_timeout: float | None = None,
        started: float | None = None,
    ) -> list[PublishError | None]:
        """Route, then run the tasks: as over RabbitMQ, a message is confirmed (counted, and
        ``after_publish`` called) before its task runs. Nothing ever blocks here
        (``blocked_timeout`` is unused)."""
        started = time.monotonic() if started is None else started
        outcomes = [self._route(message) for message in messages]
        self.published(messages, outcomes, started)
        self.broker.run()
        return outcomes

    def flush(self, messages: Sequence[WireMessage]) -> None:
        """A batch: route every message first, then run the tasks, as a broker would.

        A task's exception is raised after the whole batch was queued; routing failures
        raise ``BatchPublishError`` (with the task's exception as its context).
        """
        started = time.monotonic()
        outcomes = [self._route(message) for message in messages]
        self.published(messages, outcomes, started)
        failures = [(i, error) for i, error in enumerate(outcomes) if error is not None]
        try:
            self.broker.run()
        finally:
            if failures:
                raise BatchPublishError(failures, published=len(messages) - len(failures))

    def _route(self, message: WireMessage) -> PublishError | None:
        seconds, message = undelayed(message)
        where: dict[str, Any] = {
            "message_id": message.message_id,
            "exchange": message.exchange,
            "routing_key": message.routing_key,
        }
        known = message.exchange in ("", self.exchange) or message.exchange in self.exchanges
        if not known:
            return PublishConnectionError(
                f"NOT_FOUND - no exchange {message.exchange!r} in the topology", **where
            )
        queues = self.target_queues(message.exchange, message.routing_key)
        if not queues:
            if message.mandatory:
                return Unroutable(
                    f"NO_ROUTE - no queue is bound for routing key {message.routing_key!r}",
                    **where,
                )
            return None
        if seconds:
            self.broker.hold(seconds, message, lambda: self._enqueue(message, queues))
        else:
            self._enqueue(message, queues)
        return None

    def _enqueue(self, message: WireMessage, queues: Sequence[str]) -> None:
        for queue in queues:
            self.broker.enqueue(
                Delivery(
                    queue=queue,
                    body=message.body,
                    properties=dict(message.properties),
                    routing_key=message.routing_key,
                    exchange=message.exchange,
                )
            )

    @property
    def dead_letters(self) -> list[DeadLetter]:
        return self.broker.dead_letters
