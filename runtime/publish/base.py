"""Publishers: what applications call ``publish()`` on, over RabbitMQ or in-process.

``BasePublisher`` holds everything both transports share (encoding, message ids, persistence,
JSON Schema checks, batching, middleware, counting outcomes); subclasses only send
(``publish.amqp``, ``publish.local``) and report each message's outcome to ``published``.

``apublish``/``abatch`` exist because ``publish()`` blocks its thread until the broker
confirms, and in a coroutine task that thread is the worker's event loop: every queue on it
would stand still for the round trip. A transport with something to wait for overrides
``asend``/``aflush`` to await it; the local one keeps the defaults (its synchronous calls).
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

from mqwire.topology.routing import RouteTable

from ..client_metrics import PublisherStats
from ..codec import ANY, decode_body, encode_body
from ..dispatch import BodyValidator
from ..errors import BatchPublishError, EncodeError, PublishError
from ..interfaces import Publisher
from ..middleware import Chain, after_publish, before_publish
from ..settings import PublisherConsumerSettings
from ..wire import WireMessage, new_message_id
from .delay import Delay, delayed

__all__ = ["BATCH_CHUNK", "BasePublisher", "Batch", "Publisher"]

ACCEPT_ANY = frozenset({ANY})
#: Messages sent per pipelined round trip when a batch is flushed.
BATCH_CHUNK = 1000


class Batch:
    """Messages published inside ``with publisher.batch():``, sent with pipelined confirms."""

    def __init__(self, publisher: BasePublisher) -> None:
        self.publisher = publisher
        self.messages: list[WireMessage] = []

    def publish(self, body: Any, routing_key: str, **options: Any) -> str:
        return self.publisher.publish(body, routing_key, **options)

    @property
    def message_ids(self) -> list[str]:
        return [m.message_id for m in self.messages]


class BasePublisher:
    """Encoding, routing and schema checks shared by both transports."""

    def __init__(
        self,
        settings: PublisherConsumerSettings,
        validators: Mapping[str, BodyValidator] | None = None,
        *,
        known_queues: Sequence[str] = (),
        middleware: Chain | None = None,
        stats: PublisherStats | None = None,
        delays: bool = False,
    ) -> None:
        """``middleware``: the hooks run around each publish; ``stats``: where outcomes are
        counted (``load()`` passes its registry's; by default the publisher's own);
        ``delays``: the topology declares the delay ladder (``publish(delay=...)`` needs it)."""
        self.delays = delays
        self.name = settings.name
        self.settings = settings
        self.exchange = settings.exchange or ""
        self.routes = RouteTable(settings.routes)
        self.validators = dict(validators or {})
        self.known_queues = frozenset(known_queues)
        self._local = threading.local()
        self.middleware = middleware or Chain()
        #: The middleware when one has a publish hook; None costs one check per message.
        self._hooks = self.middleware if self.middleware.publishes else None
        self.stats = stats or PublisherStats(settings.name)
        # One per publisher (which lives as long as the process): each coroutine (asyncio
        # task) sees only its own ``abatch()``.
        self._abatch: contextvars.ContextVar[Batch | None] = contextvars.ContextVar(
            f"mqwire.abatch[{settings.name}]", default=None
        )

    def target_queues(self, exchange: str, routing_key: str) -> tuple[str, ...]:
        """Queues a message would reach, as far as this publisher's topology knows."""
        if exchange and exchange == self.exchange:
            return self.routes.queues_for(routing_key)
        if not exchange:
            return (routing_key,) if routing_key in self.known_queues else ()
        return ()

    def prepare(
        self,
        body: Any,
        routing_key: str,
        properties: Mapping[str, Any] | None = None,
        exchange: str | None = None,
        mandatory: bool = True,
        delay: Delay | None = None,
    ) -> WireMessage:
        """Encode, complete the properties and check the body against its queues' schemas;
        with a ``delay``, rewrite it onto the delay ladder (``publish.delay``)."""
        if not isinstance(routing_key, str) or len(routing_key.encode("utf-8")) > 255:
            raise EncodeError("routing_key must be a str of at most 255 bytes")
        data, props = encode_body(body, properties)
        props.setdefault("message_id", new_message_id())
        props.setdefault("delivery_mode", 2)  # persistent unless asked otherwise
        exchange = self.exchange if exchange is None else exchange
        checks = [q for q in self.target_queues(exchange, routing_key) if q in self.validators]
        if checks:
            # Checked as the queue's task would see it; whether the queue takes this content
            # type at all is the consumer's judgement (a dead letter), not a publish error.
            decoded = decode_body(data, props.get("content_type"), ACCEPT_ANY)
            for queue in checks:
                self.validators[queue](decoded.checked)
        message_id = str(props["message_id"])
        message = WireMessage(exchange, routing_key, data, message_id, props, mandatory)
        if delay is None:
            return message
        targets = self.target_queues(exchange, routing_key)
        return delayed(message, delay, targets, ladder=self.delays)

    def publish(
        self,
        body: Any,
        routing_key: str,
        properties: Mapping[str, Any] | None = None,
        exchange: str | None = None,
        mandatory: bool = True,
        *,
        blocked_timeout: float | None = None,
        delay: Delay | None = None,
    ) -> str:
        """Publish one message and return its ``message_id`` once the broker confirmed it.

        Inside ``with publisher.batch():`` the message is queued and sent when the block ends.
        ``blocked_timeout``: seconds to wait while the broker blocks publishing (a resource
        alarm) before giving up; default: the publisher's (0, fail at once).
        ``delay``: seconds (or a ``timedelta``) before the message reaches its queues, rounded
        up to whole seconds, 0 to ``MAX_DELAY`` (about 24 days); see docs/delays.md.

        Raises:
            EncodeError, MessageSchemaError: before anything is sent (so is a bad ``delay``,
                and ``Unroutable`` for a delayed message no queue takes); so does a
                middleware's ``before_publish`` exception.
            PublishBlocked: the broker blocks publishing; the message was not sent.
            PublishError: a subclass saying why the broker did not confirm it.
        """
        started = time.monotonic()
        message = self.outgoing(body, routing_key, properties, exchange, mandatory, delay)
        if self.joined_batch(message):
            return message.message_id
        (error,) = self.send([message], blocked_timeout=blocked_timeout, started=started)
        if error is not None:
            raise error
        return message.message_id

    def outgoing(
        self,
        body: Any,
        routing_key: str,
        properties: Mapping[str, Any] | None,
        exchange: str | None,
        mandatory: bool,
        delay: Delay | None = None,
    ) -> WireMessage:
        """The message to send: ``prepare``d, then through the middleware's ``before_publish``."""
        message = self.prepare(body, routing_key, properties, exchange, mandatory, delay)
        if self._hooks is not None:
            message = before_publish(self._hooks, message)
        return message

    def current_batch(self) -> Batch | None:
        """The batch a publish joins: this coroutine's ``abatch()``, else this thread's
        ``batch()``, else None (sent at once)."""
        return self._abatch.get() or getattr(self._local, "batch", None)

    def joined_batch(self, message: WireMessage) -> bool:
        """Queue ``message`` in the batch a publish joins (``current_batch``), if there is one."""
        batch = self.current_batch()
        if batch is not None:
            batch.messages.append(message)
        return batch is not None

    @contextlib.contextmanager
    def batch(self) -> Iterator[Batch]:
        """Collect this thread's publishes and send them with pipelined confirms at the end.

        Raises:
            BatchPublishError: when the block ends, if any message was not confirmed; it
                lists each failed message's index and error.
        """
        if self.current_batch() is not None:
            raise RuntimeError("publisher batches do not nest")
        batch = self._local.batch = Batch(self)
        try:
            yield batch
        finally:
            self._local.batch = None
            self.flush(batch.messages)

    def flush(self, messages: Sequence[WireMessage]) -> None:
        failures: list[tuple[int, PublishError]] = []
        for start in range(0, len(messages), BATCH_CHUNK):
            outcomes = self.send(messages[start : start + BATCH_CHUNK])
            failures.extend((start + i, e) for i, e in enumerate(outcomes) if e is not None)
        if failures:
            raise BatchPublishError(failures, published=len(messages) - len(failures))

    def send(
        self,
        messages: Sequence[WireMessage],
        *,
        blocked_timeout: float | None = None,
        started: float | None = None,
    ) -> list[PublishError | None]:
        """One outcome per message (``None``: confirmed); ``blocked_timeout`` as in ``publish``.

        Implementations pass the outcomes to ``published`` as soon as they are known;
        ``started`` is when the publishing began (``time.monotonic()``; default: now).
        """
        raise NotImplementedError

    def published(
        self,
        messages: Sequence[WireMessage],
        outcomes: Sequence[PublishError | None],
        started: float,
    ) -> None:
        """Count the outcomes of ``messages``, sent since ``started``, and run the middleware's
        ``after_publish`` hooks."""
        seconds = time.monotonic() - started
        self.stats.record(outcomes, seconds)
        if self._hooks is not None:
            after_publish(self._hooks, messages, outcomes, seconds)

    # -- for coroutines: the confirm awaited on the running loop, which goes on meanwhile ---

    async def apublish(
        self,
        body: Any,
        routing_key: str,
        properties: Mapping[str, Any] | None = None,
        exchange: str | None = None,
        mandatory: bool = True,
        *,
        blocked_timeout: float | None = None,
        delay: Delay | None = None,
    ) -> str:
        """``publish()`` for coroutines: the same arguments, checks, errors and return value;
        the confirm is awaited, not waited for. Inside ``async with publisher.abatch():`` the
        message is queued and sent when the block ends."""
        started = time.monotonic()
        message = self.outgoing(body, routing_key, properties, exchange, mandatory, delay)
        if self.joined_batch(message):
            return message.message_id
        (error,) = await self.asend([message], blocked_timeout=blocked_timeout, started=started)
        if error is not None:
            raise error
        return message.message_id

    @contextlib.asynccontextmanager
    async def abatch(self) -> AsyncIterator[Batch]:
        """``batch()`` for coroutines: ``apublish`` (and ``publish``) calls of this coroutine
        are queued, then sent with pipelined confirms, awaited, when the block ends.

        Raises:
            BatchPublishError: when the block ends, if any message was not confirmed.
        """
        if self.current_batch() is not None:
            raise RuntimeError("publisher batches do not nest")
        batch = Batch(self)
        token = self._abatch.set(batch)
        try:
            yield batch
        finally:
            self._abatch.reset(token)
            await self.aflush(batch.messages)

    async def asend(
        self,
        messages: Sequence[WireMessage],
        *,
        blocked_timeout: float | None = None,
        started: float | None = None,
    ) -> list[PublishError | None]:
        """``send`` for coroutines; by default ``send`` itself (a transport with nothing to
        wait for)."""
        return self.send(messages, blocked_timeout=blocked_timeout, started=started)

    async def aflush(self, messages: Sequence[WireMessage]) -> None:
        """``flush`` for coroutines; by default ``flush`` itself."""
        self.flush(messages)

    def close(self) -> None:
        """Release the connection; publishing afterwards fails."""
