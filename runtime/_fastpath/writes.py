"""How mqwire's pika connections write: one ``send`` per message, at once, from the caller.

pika 1.x hands each frame of a message to its transport separately, and the transport sends
only once the ioloop next reports the socket writable. For a confirmed publish that is three
syscalls and three TCP segments (``TCP_NODELAY``), an extra ioloop turn and two ``epoll_ctl``
calls before the broker sees anything; profiled, that turn was a large share of
``publish()``'s CPU time. ``DirectWrites`` joins a message's frames into one chunk and, when
nothing is queued ahead of it on a plaintext socket, sends it at once. Whatever the socket
does not take, and everything on TLS, goes pika's usual way, so order and error handling stay
pika's.
It leans on pika's transport internals (pinned below 2), and falls back to the usual path
wherever they do not look as expected; ``fastpath/test_writes`` notices if they change.
"""

from __future__ import annotations

import select
import threading
from collections.abc import Callable, Sequence
from typing import Any

from pika.adapters.select_connection import (  # type: ignore[import-untyped]
    EPollPoller,
    IOLoop,
    SelectConnection,
)
from pika.adapters.tornado_connection import TornadoConnection  # type: ignore[import-untyped]
from pika.adapters.utils.io_services_utils import (  # type: ignore[import-untyped]
    _AsyncPlaintextTransport,
)

from .reads import FrameReads


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
            type(transport) is _AsyncPlaintextTransport
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


class DirectSelectConnection(FrameReads, DirectWrites, SelectConnection):  # type: ignore[misc]
    """The publisher's connection (its own I/O thread runs the ioloop)."""


class DirectTornadoConnection(FrameReads, DirectWrites, TornadoConnection):  # type: ignore[misc]
    """The worker's connection, on the running tornado/asyncio loop."""


class SharedIOLoop(IOLoop):  # type: ignore[misc]
    """pika's ``IOLoop`` for an I/O thread that holds ``lock`` except while it waits for events.

    Whoever holds ``lock`` may use the connection, so a thread that publishes can take it
    while the I/O thread sleeps and send its message itself, instead of waking the I/O
    thread to do it: a cross-thread wake-up is a noticeable part of a confirmed publish.
    Likewise a caller waiting for its confirm may ``lead``: read the socket itself while the
    I/O thread stops watching it for reads.
    Anything that would change what the I/O thread waits for (new timers, new sockets) still
    goes through ``add_callback_threadsafe``.
    Only epoll (Linux) is wrapped; elsewhere the I/O thread never lets go, ``try_lock`` says
    so at once, and callers wake the I/O thread as before.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._shared = False  # True once the poller lets go of the lock while it waits
        self._watched: dict[int, tuple[Callable[[int, int], None], int]] = {}  # as pika asked
        self._leading = False
        super().__init__()

    def try_lock(self, timeout: float) -> bool:
        """Take ``lock`` if the I/O thread ever lets go of it (epoll), waiting ``timeout`` s."""
        return self._shared and self.lock.acquire(timeout=timeout)

    # pika registers its socket through these (lock held); a leader masks out reads.

    def add_handler(self, fd: int, handler: Callable[[int, int], None], events: int) -> None:
        self._watched[fd] = handler, events
        super().add_handler(fd, handler, self._masked(events))

    def update_handler(self, fd: int, events: int) -> None:
        self._watched[fd] = self._watched[fd][0], events
        super().update_handler(fd, self._masked(events))

    def remove_handler(self, fd: int) -> None:
        self._watched.pop(fd, None)
        super().remove_handler(fd)

    def _masked(self, events: int) -> int:
        return events & ~self.READ if self._leading else events

    def lead(self) -> int | None:
        """Let the calling thread read the connection's socket instead of the I/O thread.

        Lock held. A caller waiting for its confirms then wakes up on the socket itself, as a
        single-threaded client does, rather than being woken by the I/O thread (which keeps
        its timers, writes and error events). Returns the socket's fd, or None if another
        thread leads or there is no single connection.
        """
        if self._leading or len(self._watched) != 1:
            return None
        ((fd, (_, events)),) = self._watched.items()
        self._leading = True
        super().update_handler(fd, self._masked(events))
        return fd

    def read_as_leader(self, fd: int) -> bool:
        """Handle the socket being readable, as the I/O thread would (lock held)."""
        watched = self._watched.get(fd)
        if watched is None:  # the connection went away meanwhile
            return False
        watched[0](fd, self.READ)
        return True

    def unlead(self) -> None:
        """The I/O thread reads the socket again (lock held)."""
        self._leading = False
        for fd, (_, events) in self._watched.items():
            super().update_handler(fd, events)

    def _get_poller(
        self, get_wait_seconds: Callable[[], float | None], process_timeouts: Callable[[], None]
    ) -> Any:
        if not hasattr(select, "epoll"):
            return IOLoop._get_poller(get_wait_seconds, process_timeouts)
        poller = _UnlockingEPollPoller(get_wait_seconds, process_timeouts)
        poller.owner, self._shared = self, True
        return poller

    def start(self) -> None:
        with self.lock:
            super().start()


class _UnlockingEPollPoller(EPollPoller):  # type: ignore[misc]
    owner: SharedIOLoop

    def _create_poller(self) -> Any:
        return _UnlockedWhileWaiting(select.epoll(), self.owner)

    def _dispatch_fd_events(self, fd_event_map: dict[int, int]) -> None:
        # While epoll waited, unlocked, a caller may have closed a socket (a connection lost
        # as it read its confirms): epoll reported it all the same. pika masks the read,
        # write and error bits of a removed fd but not a hang-up, and looks up its handler:
        # a KeyError that ended the I/O thread. A single-threaded pika never sees this.
        for fileno in [fd for fd in fd_event_map if fd not in self._fd_handlers]:
            del fd_event_map[fileno]
        super()._dispatch_fd_events(fd_event_map)


class _UnlockedWhileWaiting:
    """An epoll object that releases the loop's lock for as long as ``poll`` blocks.

    A read event reported just before a caller took over the socket is not acted on: pika
    re-checks each event against the current registration (masked) before dispatching it,
    and the poller drops the events of a socket removed meanwhile.
    """

    def __init__(self, epoll: Any, owner: SharedIOLoop) -> None:
        self._epoll, self._owner = epoll, owner

    def poll(self, timeout: float = -1) -> Any:
        lock = self._owner.lock
        lock.release()
        try:
            return self._epoll.poll(timeout)
        finally:
            lock.acquire()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._epoll, name)
