"""A slow start-up for the processes of a test that puts this folder on ``PYTHONPATH``.

Python imports ``sitecustomize`` at every start, so the demo and the ``mserve`` it starts (which
inherits the path) load this. With ``MQWIRE_TEST_SLOW_BINDING=ROUTING_KEY=SECONDS``, the
``queue_bind`` of that routing key goes out that much later, on the caller's running event loop,
as on a loaded machine whose worker declares slowly. Every other call, and the broker's routing,
stay real. ``tests/test_example.py`` uses it.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any


def _delay(slow_key: str, seconds: float) -> None:
    import pika.channel  # type: ignore[import-untyped]

    bind = pika.channel.Channel.queue_bind

    def queue_bind(
        self: Any, queue: str, exchange: str, routing_key: str | None = None, **more: Any
    ) -> Any:
        if routing_key != slow_key:
            return bind(self, queue, exchange, routing_key, **more)
        later = lambda: bind(self, queue, exchange, routing_key, **more)  # noqa: E731
        asyncio.get_running_loop().call_later(seconds, later)
        return None

    pika.channel.Channel.queue_bind = queue_bind


_wanted = os.environ.get("MQWIRE_TEST_SLOW_BINDING", "")
if _wanted:
    _key, _, _seconds = _wanted.rpartition("=")
    _delay(_key, float(_seconds))
