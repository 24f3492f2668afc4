"""One pika ``TornadoConnection`` on the running loop, with awaitable calls: the worker's link.

pika reports completions through callbacks and losses through close callbacks, and raises
synchronously when called on a closed connection or channel. This module turns each call into
an awaitable that returns the broker's answer, and every pika error, whenever it comes, into
``Lost`` (reconnect) or a fatal ``WorkerError``, as Dramatiq's broker does at its edge. It
implements ``worker.ports.Session``; the worker keeps the consuming logic and never sees pika.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import pika  # type: ignore[import-untyped]
from tornado.ioloop import IOLoop

from mqwire.topology.declarations import Declarations, QueueDeclaration

from .._fastpath.switch import Fastpath, for_process
from ..dispatch import Delivery
from ..errors import ExitCode, Lost, WorkerError, describe_error, fatal_error
from ..tls import TlsSettings
from ..wire import properties_dict
from .connections import tornado_connection
from .consumer_channel import PIKA_ERRORS as _PIKA_ERRORS
from .consumer_channel import PikaConsumerChannel, consumer_timeout
from .declaring import Chain, declaring_steps, gathered, lanes
from .nodes import Nodes
from .params import tls_refusal

#: The worker's callback for a delivery, with the channel to settle it on.
OnMessage = Callable[["PikaConsumerChannel", Delivery], None]


def session_factory(
    url: str, *, name: str, heartbeat: int | None = None, tls: TlsSettings | None = None
) -> Callable[[Callable[[str], None]], AmqpSession]:
    """Sessions of consumer ``name`` on ``url``; the URL and TLS files are checked now, not
    at connect. For a cluster's URLs, the first session goes to a random node and each later
    one (a reconnect: the last one failed or was lost) to the next.

    Raises:
        ConfigurationError: the URL is not an AMQP URL pika accepts, its TLS options would
            not verify the broker, or a ``tls`` file cannot be used.
    """
    nodes = Nodes(url, name=f"mserve:{name}", tls=tls, heartbeat=heartbeat)
    sessions = 0

    def new_session(on_lost: Callable[[str], None]) -> AmqpSession:
        nonlocal sessions
        if sessions:
            nodes.move_on()
        sessions += 1
        return AmqpSession(nodes.current, nodes.where, on_lost)

    return new_session


def _translated(exc: BaseException, during: str) -> WorkerError | Lost:
    return fatal_error(exc, during) or Lost(f"{during}: {describe_error(exc)}")


class AmqpSession:
    """A connection and its pending calls; ``on_lost(reason)`` hears of any loss once opened."""

    def __init__(
        self,
        params: Any,
        masked_url: str,
        on_lost: Callable[[str], None],
        fastpath: Fastpath | None = None,
    ) -> None:
        """``fastpath`` defaults to the process's choice (``MQWIRE_FASTPATH``)."""
        self.masked_url = masked_url
        self._fastpath = fastpath if fastpath is not None else for_process()
        self.connection: Any = None
        self._quiet = False  # stopping: channel closes from now on are ours
        self._params, self._on_lost = params, on_lost
        self._pending: set[asyncio.Future[Any]] = set()

    async def connect(self) -> None:
        opened: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.add(opened)  # a stop request ends the wait too

        def on_open(connection: Any) -> None:
            if not opened.done():
                opened.set_result(connection)

        def on_open_error(connection: Any, exc: BaseException) -> None:
            if not opened.done():
                opened.set_exception(exc)

        self.connection = tornado_connection(self._fastpath)(
            self._params,
            on_open_callback=on_open,
            on_open_error_callback=on_open_error,
            on_close_callback=self._on_connection_closed,
            custom_ioloop=IOLoop.current(),
        )
        try:
            await opened
        except Exception as exc:  # Lost too: a stop request, reported as where it happened
            self.connection = None
            during = f"connecting to {self.masked_url}"
            if self._params.ssl_options is not None and not isinstance(exc, Lost):
                loop = asyncio.get_running_loop()  # its probe may block: not on the loop
                refused = await loop.run_in_executor(None, tls_refusal, exc, self._params)
                if refused is not None:
                    raise WorkerError(f"{during}: {refused}", ExitCode.CONFIG) from None
            raise _translated(exc, during) from None

    async def declare(self, plan: Declarations, keep_free: int = 0) -> None:
        """Exchanges, then queues each with its bindings, over several channels at once
        (``declaring``), leaving ``keep_free`` of the negotiated ``channel_max`` for the
        worker; idempotent."""
        first, then = declaring_steps(plan)
        refused: list[int] = []  # the lanes whose channel the broker closed, in that order

        def closed(lane: int, channel: Any, exc: BaseException) -> None:
            refused.append(lane)
            self._on_channel_closed(channel, exc)

        async def run(chains: list[Chain], lane: int) -> None:
            for chain in chains[lane :: len(channels)]:
                for during, method, kwargs in chain:
                    await self._rpc(during, getattr(channels[lane], method), **kwargs)

        # pika keeps the value negotiated at Connection.Tune in its copy of the parameters
        limit = self.connection.params.channel_max if self.connection is not None else 0
        opening = [self._channel(partial(closed, i)) for i in lanes(first, then, limit, keep_free)]
        channels = await gathered(refused, opening)
        for step in (first, then):
            await gathered(refused, [run(step, i) for i in range(len(channels))])
        for channel in channels:
            self._call("closing the declaring channel", channel.close)

    async def declare_queue(self, queue: QueueDeclaration) -> None:
        """One queue of the plan again (a retry or dead-letter queue deleted under us)."""
        channel = await self._channel()
        await self._rpc(
            f"declaring queue {queue.name!r}", channel.queue_declare, **queue.declare_kwargs()
        )
        self._call("closing the declaring channel", channel.close)

    async def consume(
        self,
        queue: str,
        prefetch: int,
        on_message: OnMessage,
        on_cancel: Callable[[], None],
        on_closed: Callable[[str, bool], None],
        ready: Awaitable[None] | None = None,
    ) -> PikaConsumerChannel:
        """A channel of its own consuming ``queue``, its deliveries decoded for ``on_message``.

        The broker closing this channel alone (a 406 consumer timeout, say) is not a loss of
        the session: ``on_closed(reason, consumer_timeout)`` hears of it, and the connection
        and the other queues' channels carry on. ``ready`` (the start-up's declarations) is
        awaited between setting the prefetch and consuming.
        """
        setting_up: set[asyncio.Future[Any]] = set()  # this channel's calls still waiting

        def closed(_: Any, exc: BaseException) -> None:
            if self._quiet or not isinstance(exc, pika.exceptions.ChannelClosedByBroker):
                return  # our own close, or the connection's loss: its own callback says so
            for future in setting_up:  # pika never answers a closed channel's calls
                if not future.done():
                    future.set_exception(Lost(exc))
            on_closed(f"channel of {queue!r} closed: {describe_error(exc)}", consumer_timeout(exc))

        channel = await self._channel(closed)
        consumer = PikaConsumerChannel(channel)

        def on_deliver(_: Any, method: Any, properties: Any, body: bytes) -> None:
            on_message(consumer, Delivery(
                queue, body, properties_dict(properties), method.routing_key, method.exchange,
                method.redelivered, method.delivery_tag,
            ))  # fmt: skip

        self._call("watching for cancels", channel.add_on_cancel_callback, lambda _: on_cancel())
        await self._rpc("setting qos", channel.basic_qos, setting_up, prefetch_count=prefetch)
        if ready is not None:  # shielded: one queue giving up does not stop the declaring
            await asyncio.shield(ready)
        await self._rpc(
            f"consuming {queue!r}", channel.basic_consume, setting_up, queue=queue,
            on_message_callback=on_deliver,
        )  # fmt: skip
        return consumer

    def interrupt(self) -> None:
        """Stopping: pending calls end with ``Lost``; channel closes are ours from now on."""
        self._quiet = True
        self._fail_pending(ConnectionAbortedError("stop requested"))

    async def close(self) -> None:
        """Close the connection (unacked messages go back to their queues); idempotent."""
        self._quiet = True
        connection, self.connection = self.connection, None
        if connection is None or connection.is_closed:
            return
        closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def on_close(*_: Any) -> None:
            if not closed.done():
                closed.set_result(None)

        connection.add_on_close_callback(on_close)
        if not connection.is_closing:
            try:
                connection.close()
            except _PIKA_ERRORS:  # closed meanwhile: nothing left to close
                return
        await asyncio.wait([closed], timeout=10)

    # -- pika calls -------------------------------------------------------------------------

    async def _channel(self, on_close: Callable[[Any, BaseException], None] | None = None) -> Any:
        """A new channel; a broker's close of it is a loss of the session unless ``on_close``
        (a consuming channel's own handler) is given."""
        connection = self.connection
        if connection is None:
            raise Lost("opening a channel: the connection is closed")
        channel = await self._rpc(
            "opening a channel", lambda callback: connection.channel(on_open_callback=callback)
        )
        channel.add_on_close_callback(on_close or self._on_channel_closed)
        return channel

    def _call(self, during: str, method: Any, *args: Any, **kwargs: Any) -> Any:
        """A synchronous pika call, its errors translated."""
        try:
            return method(*args, **kwargs)
        except _PIKA_ERRORS as exc:
            raise _translated(exc, during) from None

    async def _rpc(
        self, during: str, method: Any, group: set[asyncio.Future[Any]] | None = None,
        **kwargs: Any,
    ) -> Any:  # fmt: skip
        """Call a pika method with a completion callback; its result, or the loss translated.

        ``group`` collects the call's future too, so a channel's own close can end it.
        """
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.add(future)
        if group is not None:
            group.add(future)

        def done(result: Any) -> None:
            self._pending.discard(future)
            if not future.done():
                future.set_result(result)

        try:
            self._call(during, method, callback=done, **kwargs)
            return await future
        except Lost as exc:
            cause = exc.args[0] if exc.args else exc
            if isinstance(cause, BaseException):  # a close callback's exception
                raise _translated(cause, during) from None
            raise
        finally:
            self._pending.discard(future)
            if group is not None:
                group.discard(future)

    def _fail_pending(self, cause: BaseException) -> None:
        for future in list(self._pending):
            if not future.done():
                future.set_exception(Lost(cause))
        self._pending.clear()

    def _on_connection_closed(self, connection: Any, exc: BaseException) -> None:
        if connection is not self.connection:
            return
        self.connection = None
        self._fail_pending(exc)
        self._on_lost(f"connection closed: {describe_error(exc)}")

    def _on_channel_closed(self, channel: Any, exc: BaseException) -> None:
        if self._quiet or isinstance(exc, pika.exceptions.ChannelClosedByClient):
            return  # our own close
        self._fail_pending(exc)
        self._on_lost(f"channel closed: {describe_error(exc)}")
