"""The broker edge of ``mqctl``: one blocking pika connection, short operations on it.

A failed passive declare closes its channel (404), so every probe that can fail runs on a
channel of its own. Messages are read with ``basic_get`` without auto-ack and either acked
(after a replay's publish was confirmed) or requeued, never dropped.
"""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pika  # type: ignore[import-untyped]
from pika.exceptions import AMQPError, ChannelClosedByBroker  # type: ignore[import-untyped]

from mqwire.topology.declarations import (
    BindingDeclaration,
    ExchangeDeclaration,
    QueueDeclaration,
)

from ..errors import (
    BrokerError,
    BrokerUnreachable,
    ConfigurationError,
    describe_error,
)
from ..tls import TlsSettings
from ..wire import properties_dict
from .nodes import Nodes
from .params import scrubber, tls_refusal

#: (properties, body) of a message read from a queue.
Message = tuple[dict[str, Any], bytes]


@dataclass(frozen=True)
class Probe:
    """What a passive declare found: ``exists`` False when the broker answered 404."""

    exists: bool
    ready: int = 0
    consumers: int = 0


class Admin:
    """A blocking connection to one broker (``with Admin(url) as admin: ...``); for a
    cluster's URLs, to the first node that answers, in order."""

    def __init__(
        self,
        url: str,
        tls: TlsSettings | None = None,
        on_node: Callable[[str], None] | None = None,
    ) -> None:
        """``on_node(node)``: told which node it connected to, when ``url`` lists several."""
        nodes = Nodes(url, name="mqctl", tls=tls, first=0)  # ConfigurationError: exit 2
        scrub = scrubber(url)
        failures = []
        for _ in range(len(nodes)):
            try:
                self._connection = pika.BlockingConnection(nodes.current)
                self.node = nodes.where
                if on_node is not None and len(nodes) > 1:
                    on_node(self.node)
                return
            except Exception as exc:
                tls_failure = tls_refusal(exc, nodes.current)
                if tls_failure is not None:  # retrying would not help: a configuration error
                    raise ConfigurationError(f"{nodes.where}: {tls_failure}") from None
                failures.append(f"cannot connect to {nodes.where}: {scrub(describe_error(exc))}")
                nodes.move_on()
        raise BrokerUnreachable("; ".join(failures))

    def __enter__(self) -> Admin:
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(AMQPError):
            self._connection.close()

    @contextlib.contextmanager
    def _channel(self) -> Iterator[Any]:
        try:
            channel = self._connection.channel()
        except AMQPError as exc:
            raise BrokerError(f"{self.node}: {describe_error(exc)}") from None
        try:
            yield channel
        except ChannelClosedByBroker as exc:
            raise BrokerError(f"{exc.reply_code} {exc.reply_text}", exc.reply_code) from None
        finally:
            if channel.is_open:
                channel.close()

    def probe_queue(self, name: str) -> Probe:
        try:
            with self._channel() as channel:
                method = channel.queue_declare(name, passive=True).method
        except BrokerError as exc:
            if exc.reply_code == 404:
                return Probe(False)
            raise BrokerError(f"queue {name!r}: {exc}", exc.reply_code) from None
        return Probe(True, method.message_count, method.consumer_count)

    def exchange_exists(self, name: str) -> bool:
        try:
            with self._channel() as channel:
                channel.exchange_declare(name, passive=True)
        except BrokerError as exc:
            if exc.reply_code == 404:
                return False
            raise BrokerError(f"exchange {name!r}: {exc}", exc.reply_code) from None
        return True

    def inequivalence(self, queue: QueueDeclaration) -> str | None:
        """Declare an existing queue with the expected arguments: the broker's 406 text, or None.

        Only call it for a queue that exists: on a missing one the declare would create it.
        """
        try:
            with self._channel() as channel:
                channel.queue_declare(**queue.declare_kwargs())
        except BrokerError as exc:
            if exc.reply_code in (405, 406):
                return str(exc).split(" ", 1)[1]
            raise BrokerError(f"queue {queue.name!r}: {exc}", exc.reply_code) from None
        return None

    def exchange_inequivalence(self, exchange: ExchangeDeclaration) -> str | None:
        """Like :meth:`inequivalence`, for an existing exchange's type and durability."""
        try:
            with self._channel() as channel:
                channel.exchange_declare(exchange.name, exchange.type, durable=exchange.durable)
        except BrokerError as exc:
            if exc.reply_code in (405, 406):
                return str(exc).split(" ", 1)[1]
            raise BrokerError(f"exchange {exchange.name!r}: {exc}", exc.reply_code) from None
        return None

    def declare_exchange(self, exchange: ExchangeDeclaration) -> None:
        with self._channel() as channel:
            channel.exchange_declare(exchange.name, exchange.type, durable=exchange.durable)

    def declare_queue(self, queue: QueueDeclaration) -> None:
        with self._channel() as channel:
            channel.queue_declare(**queue.declare_kwargs())

    def bind(self, binding: BindingDeclaration) -> None:
        with self._channel() as channel:
            if binding.destination_type == "exchange":
                channel.exchange_bind(binding.queue, binding.exchange, binding.routing_key)
            else:
                channel.queue_bind(binding.queue, binding.exchange, binding.routing_key)

    def unbind(
        self, source: str, destination: str, routing_key: str, kind: str, arguments: Any
    ) -> None:
        """Remove one binding (``kind`` ``queue`` or ``exchange``) with its exact arguments."""
        with self._channel() as channel:
            if kind == "exchange":
                channel.exchange_unbind(destination, source, routing_key, arguments or None)
            else:
                channel.queue_unbind(destination, source, routing_key, arguments or None)

    def purge(self, name: str) -> int:
        with self._channel() as channel:
            return int(channel.queue_purge(name).method.message_count)

    def delete(self, name: str) -> int:
        with self._channel() as channel:
            return int(channel.queue_delete(name).method.message_count)

    def peek(self, name: str, limit: int | None) -> list[Message]:
        """Up to ``limit`` messages of ``name``, left in the queue in their order."""
        with self._channel() as channel:
            taken, last = _get_all(channel, name, limit)
            if last is not None:
                channel.basic_nack(last, multiple=True, requeue=True)
        return [(props, body) for _, props, body in taken]

    def replay(
        self,
        source: str,
        target: str,
        choose: Callable[[Mapping[str, Any]], bool],
        rewrite: Callable[[Mapping[str, Any]], dict[str, Any]],
    ) -> list[str]:
        """Move the chosen messages of ``source`` to queue ``target``; their message ids.

        Each is published (default exchange, mandatory, confirmed) before its ``source`` copy
        is acked; the others are requeued in order. A failed publish stops the replay, with
        every message not yet moved back in ``source``.
        """
        moved: list[str] = []
        with self._channel() as channel:
            channel.confirm_delivery()
            taken, _ = _get_all(channel, source, None)
            pending = collections.deque(taken)  # not handled yet
            kept: list[int] = []  # not chosen: requeued at the end
            try:
                while pending:
                    tag, props, body = pending[0]
                    if choose(props):
                        self._move(channel, target, rewrite(props), body, moved, source)
                        channel.basic_ack(tag)
                        moved.append(str(props.get("message_id") or ""))
                    else:
                        kept.append(tag)
                    pending.popleft()
            finally:
                kept.extend(tag for tag, _, _ in pending)
                if kept and channel.is_open:
                    channel.basic_nack(max(kept), multiple=True, requeue=True)
        return moved

    @staticmethod
    def _move(
        channel: Any, target: str, props: dict[str, Any], body: bytes, moved: list[str], source: str
    ) -> None:
        try:
            channel.basic_publish("", target, body, pika.BasicProperties(**props), mandatory=True)
        except AMQPError as exc:
            raise BrokerError(
                f"replay stopped after {len(moved)} message(s): publishing "
                f"{props.get('message_id')!r} to {target!r} failed: "
                f"{describe_error(exc)}; it and the rest stay in {source!r}"
            ) from None


def _get_all(channel: Any, name: str, limit: int | None) -> tuple[list[Any], int | None]:
    taken: list[tuple[int, dict[str, Any], bytes]] = []
    while limit is None or len(taken) < limit:
        method, properties, body = channel.basic_get(name, auto_ack=False)
        if method is None:
            break
        taken.append((method.delivery_tag, properties_dict(properties), body))
    return taken, (taken[-1][0] if taken else None)
