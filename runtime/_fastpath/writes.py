"""How mqwire's pika connections write: one ``send`` per message, at once, from the caller.

pika 1.x hands each frame of a message to its transport separately, and the transport sends
only once the ioloop next reports the socket writable. For a confirmed publish that is three
syscalls and three TCP segments (``TCP_NODELAY``), an extra ioloop turn and two ``epoll_ctl``
calls before the broker sees anything, and that turn is a large share of ``publish()``'s
CPU time. ``DirectWrites`` joins a message's frames into one chunk and, when nothing is
queued ahead of it on a plaintext socket, sends it at once. Whatever the socket does not
take, and everything on TLS, goes pika's usual way, so order and error handling stay pika's.
It leans on pika's transport internals (pinned below 2), and falls back to the usual path
wherever they do not look as expected; ``tests/runtime/fastpath/test_writes.py`` notices
if they change. Switched by ``MQWIRE_FASTPATH`` (``switch.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pika.adapters.base_connection import BaseConnection  # type: ignore[import-untyped]

try:
    from pika.adapters.utils.io_services_utils import (  # type: ignore[import-untyped]
        _AsyncPlaintextTransport,
    )
except ImportError:  # a pika without it: supported() says so and the trick stays off
    _AsyncPlaintextTransport = None


def supported() -> bool:
    """Whether the installed pika still has what ``DirectWrites`` relies on."""
    return (
        _AsyncPlaintextTransport is not None
        and isinstance(getattr(_AsyncPlaintextTransport, "_STATE_ACTIVE", None), int)
        and callable(getattr(BaseConnection, "_output_marshaled_frames", None))
        and callable(getattr(BaseConnection, "_adapter_emit_data", None))
    )


class DirectWrites:
    """Mixin for a pika ``BaseConnection`` subclass (listed before it)."""

    bytes_sent: int
    frames_sent: int
    _transport: Any

    def _output_marshaled_frames(self, marshaled_frames: Sequence[bytes]) -> None:
        # Byte counts stay exact: the heartbeat checker reads them.
        data = marshaled_frames[0] if len(marshaled_frames) == 1 else b"".join(marshaled_frames)
        self.bytes_sent += len(data)
        self.frames_sent += len(marshaled_frames)
        self._adapter_emit_data(data)

    def _adapter_emit_data(self, data: bytes) -> None:
        transport = self._transport
        if (
            _AsyncPlaintextTransport is not None
            and type(transport) is _AsyncPlaintextTransport
            and getattr(transport, "_state", None) == _AsyncPlaintextTransport._STATE_ACTIVE
            and not getattr(transport, "_tx_buffers", True)
        ):
            try:
                sent = transport._sock.send(data)
            except OSError:  # would block, or a broken socket that pika's own write reports
                sent = 0
            if sent == len(data):
                return
            data = data[sent:]
        transport.write(data)


def close_socket(connection: Any) -> None:
    """Close the socket of a connection whose ioloop is gone (pika has no public way)."""
    sock = getattr(getattr(connection, "_transport", None), "_sock", None)
    if sock is not None:
        sock.close()
