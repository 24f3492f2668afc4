"""One pika ``TornadoConnection`` on the running loop, with awaitable calls: the worker's link.

pika reports completions through callbacks and losses through close callbacks; this turns each
call into an awaitable that returns the broker's answer or raises ``Lost`` (or a fatal
``WorkerError``) when the connection or a channel goes away first. The worker keeps the
consuming logic; this module keeps the plumbing, and is one of the few that import pika.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pika  # type: ignore[import-untyped]
from tornado.ioloop import IOLoop

from mqwire.topology.declarations import Declarations

from .._fastpath.writes import DirectTornadoConnection
from ..errors import describe_error
from ..worker.policy import fatal_error


class Lost(Exception):
    """The connection or one of its channels went away; reconnect."""


class AmqpSession:
    """A connection and its pending calls; ``on_lost(reason)`` hears of any loss once opened."""

    def __init__(self, params: Any, masked_url: str, on_lost: Callable[[str], None]) -> None:
        self.masked_url = masked_url
        self.connection: Any = None
        self.quiet = False  # stopping: channel closes from now on are ours
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

        self.connection = DirectTornadoConnection(
            self._params,
            on_open_callback=on_open,
            on_open_error_callback=on_open_error,
            on_close_callback=self._on_connection_closed,
            custom_ioloop=IOLoop.current(),
        )
        try:
            await opened
        except Exception as exc:
            self.connection = None
            during = f"connecting to {self.masked_url}"
            raise fatal_error(exc, during) or Lost(f"{during}: {describe_error(exc)}") from None

    async def channel(self) -> Any:
        connection = self.connection
        channel = await self.rpc(
            "opening a channel", lambda callback: connection.channel(on_open_callback=callback)
        )
        channel.add_on_close_callback(self._on_channel_closed)
        return channel

    def rpc(self, during: str, method: Any, **kwargs: Any) -> Any:
        """Call a pika method with a completion callback; await its result or the loss."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.add(future)

        def done(result: Any) -> None:
            self._pending.discard(future)
            if not future.done():
                future.set_result(result)

        method(callback=done, **kwargs)
        return self._translate(future, during)

    async def declare(self, plan: Declarations, channel: Any) -> None:
        """Exchanges, queues (retry and dead-letter ones included), bindings: idempotent."""
        for x in plan.exchanges:
            await self.rpc(
                f"declaring exchange {x.name!r}", channel.exchange_declare,
                exchange=x.name, exchange_type=x.type, durable=x.durable,
            )  # fmt: skip
        for q in plan.queues:
            await self.rpc(
                f"declaring queue {q.name!r}", channel.queue_declare, **q.declare_kwargs()
            )
        for b in plan.bindings:
            await self.rpc(
                f"declaring the binding {b.exchange!r} -> {b.queue!r} ({b.routing_key!r})",
                channel.queue_bind,
                queue=b.queue, exchange=b.exchange, routing_key=b.routing_key,
            )  # fmt: skip

    def fail_pending(self, cause: BaseException) -> None:
        for future in list(self._pending):
            if not future.done():
                future.set_exception(Lost(cause))
        self._pending.clear()

    async def close(self) -> None:
        """Close the connection (unacked messages go back to their queues); idempotent."""
        connection, self.connection = self.connection, None
        if connection is None or connection.is_closed:
            return
        closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def on_close(*_: Any) -> None:
            if not closed.done():
                closed.set_result(None)

        connection.add_on_close_callback(on_close)
        if not connection.is_closing:
            connection.close()
        await asyncio.wait([closed], timeout=10)

    async def _translate(self, future: asyncio.Future[Any], during: str) -> Any:
        try:
            return await future
        except Lost as exc:
            cause = exc.args[0] if exc.args else exc
            if isinstance(cause, BaseException):
                fatal = fatal_error(cause, during)
                if fatal is not None:
                    raise fatal from None
                raise Lost(f"{during}: {describe_error(cause)}") from None
            raise

    def _on_connection_closed(self, connection: Any, exc: BaseException) -> None:
        if connection is not self.connection:
            return
        self.connection = None
        self.fail_pending(exc)
        self._on_lost(f"connection closed: {describe_error(exc)}")

    def _on_channel_closed(self, channel: Any, exc: BaseException) -> None:
        if self.quiet or isinstance(exc, pika.exceptions.ChannelClosedByClient):
            return  # our own close
        self.fail_pending(exc)
        self._on_lost(f"channel closed: {describe_error(exc)}")
