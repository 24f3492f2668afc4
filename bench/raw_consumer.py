"""The consume ceiling: a minimal raw pika ``TornadoConnection`` consumer, run as a subprocess.

``python -m bench.raw_consumer URL QUEUE PREFETCH``: one channel with ``basic_qos(PREFETCH)``;
each message is JSON-decoded, handed to an inline no-op task and acked. Nothing else: no
thread, no retry, no metrics, no logging. With ``BENCH_LATENCY_FILE`` set it writes
``time.time() - sent`` per message first, exactly as ``noop_app.latency`` does for mserve.
SIGTERM closes the connection and ends the loop.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from typing import Any

import pika  # type: ignore[import-untyped]
from pika.adapters.tornado_connection import TornadoConnection  # type: ignore[import-untyped]
from tornado.ioloop import IOLoop


def noop(payload: Any) -> None:
    return None


def main(argv: list[str]) -> int:
    url, queue, prefetch = argv[0], argv[1], int(argv[2])
    path = os.environ.get("BENCH_LATENCY_FILE")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600) if path else None
    loop = IOLoop.current()
    failed: list[BaseException] = []

    def on_message(channel: Any, method: Any, properties: Any, body: bytes) -> None:
        payload = json.loads(body)
        if fd is not None:
            os.write(fd, f"{time.time() - payload['sent']:.6f}\n".encode())
        noop(payload)
        channel.basic_ack(method.delivery_tag)

    def on_channel_closed(channel: Any, exc: BaseException) -> None:
        if not isinstance(exc, pika.exceptions.ChannelClosedByClient):
            failed.append(exc)
        close()

    def on_channel(channel: Any) -> None:
        channel.add_on_close_callback(on_channel_closed)
        channel.basic_qos(
            prefetch_count=prefetch,
            callback=lambda _: channel.basic_consume(queue, on_message),
        )

    def on_error(connection: Any, exc: BaseException) -> None:
        failed.append(exc)
        loop.stop()

    connection = TornadoConnection(
        pika.URLParameters(url),
        on_open_callback=lambda c: c.channel(on_open_callback=on_channel),
        on_open_error_callback=on_error,
        on_close_callback=lambda c, exc: loop.stop(),
        custom_ioloop=loop,
    )

    def close() -> None:
        if connection.is_open:
            connection.close()

    loop.asyncio_loop.add_signal_handler(signal.SIGTERM, close)  # type: ignore[attr-defined]
    loop.start()
    if failed:
        print(f"raw_consumer: {failed[0]!r}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
