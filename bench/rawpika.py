"""The message every measurement sends, and raw pika's two confirmed publishers (the ceiling).

``payload(i)`` JSON-encodes to about 100 bytes and carries ``sent`` (``time.time()``) for the
latency section. ``publish_pipelined`` keeps up to ``window`` unconfirmed messages in flight on
a ``SelectConnection`` (the pipelined-confirms ceiling; also how every consume run pre-publishes
its N messages); ``each_publisher`` waits for each confirm on a ``BlockingConnection``.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pika  # type: ignore[import-untyped]
from pika import spec
from pika.adapters.select_connection import SelectConnection  # type: ignore[import-untyped]

from .broker import BenchError

#: Unconfirmed messages in flight when pipelining (mqwire's batch() sends chunks of 1000).
WINDOW = 1000
_PAD = "x" * 31  # {"id": 10000, "sent": 1760000000.123456, "kind": "bench", "pad": ...}: 100 bytes

#: Makes message ``i``: its body and its pika properties.
Maker = Callable[[int], tuple[bytes, Any]]
#: Publishes message ``i`` and returns once the broker confirmed it.
Send = Callable[[int], None]


def payload(i: int) -> dict[str, Any]:
    return {"id": i, "sent": time.time(), "kind": "bench", "pad": _PAD}


def json_message(i: int) -> tuple[bytes, Any]:
    """What mqwire's ``publish(body=dict)`` puts on the wire: JSON, persistent, a message id."""
    properties = pika.BasicProperties(
        content_type="application/json", delivery_mode=2, message_id=uuid.uuid4().hex
    )
    return json.dumps(payload(i)).encode(), properties


@contextlib.contextmanager
def each_publisher(url: str, routing_key: str, make: Maker = json_message) -> Iterator[Send]:
    """A connected ``BlockingConnection`` whose ``send(i)`` returns once message i is confirmed."""
    with pika.BlockingConnection(pika.URLParameters(url)) as connection:
        channel = connection.channel()
        channel.confirm_delivery()

        def send(i: int) -> None:
            body, properties = make(i)
            channel.basic_publish("", routing_key, body, properties, mandatory=True)

        yield send


def publish_pipelined(
    url: str, routing_key: str, n: int, make: Maker = json_message, window: int = WINDOW
) -> float:
    """Publish ``n`` messages, ``window`` unconfirmed at most; seconds until the last confirm."""
    return _Pipeline(url, routing_key, n, make, window).run()


class _Pipeline:
    def __init__(self, url: str, routing_key: str, n: int, make: Maker, window: int) -> None:
        self.routing_key, self.n, self.make, self.window = routing_key, n, make, window
        self.sent = 0
        self.pending: dict[int, None] = {}  # delivery tags in publish order
        self.started = self.ended = 0.0
        self.error: str | None = None
        self.channel: Any = None
        self.connection = SelectConnection(
            pika.URLParameters(url),
            on_open_callback=lambda c: c.channel(on_open_callback=self._on_channel),
            on_open_error_callback=self._on_open_error,
            on_close_callback=lambda c, exc: c.ioloop.stop(),
        )

    def run(self) -> float:
        self.connection.ioloop.start()
        if self.error is not None:
            raise BenchError(f"pipelined publish failed: {self.error}")
        if not self.ended:
            raise BenchError(f"pipelined publish stopped after {self.sent} of {self.n}")
        return self.ended - self.started

    def _on_open_error(self, connection: Any, exc: BaseException) -> None:
        self.error = repr(exc)
        connection.ioloop.stop()

    def _on_channel(self, channel: Any) -> None:
        self.channel = channel
        channel.add_on_close_callback(self._on_channel_closed)
        channel.confirm_delivery(ack_nack_callback=self._on_confirm, callback=self._on_ready)

    def _on_channel_closed(self, channel: Any, exc: BaseException) -> None:
        if not self.ended:
            self.error = repr(exc)
        if self.connection.is_open:
            self.connection.close()

    def _on_ready(self, frame: Any) -> None:
        self.started = time.perf_counter()
        self._fill()

    def _fill(self) -> None:
        while self.sent < self.n and len(self.pending) < self.window:
            body, properties = self.make(self.sent)
            self.channel.basic_publish("", self.routing_key, body, properties)
            self.sent += 1
            self.pending[self.sent] = None
        if self.sent == self.n and not self.pending and not self.ended:
            self.ended = time.perf_counter()
            self.connection.close()

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        if isinstance(method, spec.Basic.Nack):
            self.error = f"broker nacked delivery tag {method.delivery_tag}"
            self.connection.close()
            return
        if method.multiple:
            while self.pending and next(iter(self.pending)) <= method.delivery_tag:
                del self.pending[next(iter(self.pending))]
        else:
            self.pending.pop(method.delivery_tag, None)
        self._fill()
