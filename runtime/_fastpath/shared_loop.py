"""Caller threads use the publisher's connection while its I/O thread sleeps.

pika's ``SelectConnection`` belongs to the thread running its ioloop; another thread that
publishes must wake it, and a confirm wakes the waiting caller again: two cross-thread
wake-ups per confirmed publish, which a single-threaded client never pays. ``SharedIOLoop``
lets the I/O thread hold a lock except while it waits in epoll, so a caller can take it and
publish itself (``held``) and read its own confirms off the socket (``read_until``).
This changes pika's threading model, so ``MQWIRE_FASTPATH`` (``switch.py``) turns it on in
``auto`` only for the pika minor its stress test ran on; for a plain pika ``IOLoop`` every
function here is a no-op.
"""

from __future__ import annotations

import contextlib
import logging
import select
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from pika.adapters.select_connection import (  # type: ignore[import-untyped]
    EPollPoller,
    IOLoop,
)

log = logging.getLogger("mqwire.publisher")


def supported() -> bool:
    """Whether this platform and the installed pika have what ``SharedIOLoop`` relies on."""
    inits = [vars(k)["__init__"] for k in EPollPoller.__mro__ if "__init__" in vars(k)]
    names = {n for init in inits for n in getattr(getattr(init, "__code__", None), "co_names", ())}
    return (
        hasattr(select, "epoll")
        and callable(getattr(IOLoop, "_get_poller", None))
        and callable(getattr(EPollPoller, "_create_poller", None))
        and callable(getattr(EPollPoller, "_dispatch_fd_events", None))
        and "_fd_handlers" in names
    )


def new_loop(shared: bool) -> Any:
    """The publisher's ioloop: shared with caller threads, or pika's own."""
    return SharedIOLoop() if shared else IOLoop()


@contextlib.contextmanager
def held(loop: Any, timeout: float) -> Iterator[bool]:
    """Hold the I/O thread's lock while it sleeps (waiting at most ``timeout`` s): yields
    whether the caller may use the connection. Always False for pika's own loop."""
    if not (isinstance(loop, SharedIOLoop) and loop.try_lock(timeout)):
        yield False
        return
    try:
        yield True
    finally:
        loop.lock.release()


def io_thread_lock(loop: Any) -> contextlib.AbstractContextManager[Any]:
    """What keeps caller threads off the connection (nothing needed for pika's own loop)."""
    return loop.lock if isinstance(loop, SharedIOLoop) else contextlib.nullcontext()


def lead_now(loop: Any) -> int | None:
    """Inside ``held``, right after publishing: lead the socket before a confirm can arrive,
    so the I/O thread never takes it (then pass the fd to ``read_until``, which hands the
    socket back). None for pika's own loop, or when another thread leads."""
    return loop.lead() if isinstance(loop, SharedIOLoop) else None


def read_until(
    loop: Any,
    done: Callable[[], bool],
    deadline: float,
    ready: Callable[[], bool],
    name: str,
    fd: int | None = None,
) -> None:
    """Read the connection's socket on this thread until ``done()``, if nobody else does.

    ``fd``: the socket this thread leads already (``lead_now``); it is handed back whatever
    happens. Returns early (the caller then waits as usual) for pika's own loop, when another
    thread leads, ``ready()`` is false (no open channel), the connection goes away, or the
    deadline passes.
    """
    if fd is None:
        with held(loop, timeout=0.1) as mine:
            fd = loop.lead() if mine and ready() else None
    if fd is None:
        return
    try:
        readable = select.poll()
        readable.register(fd, select.POLLIN)
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            readable.poll(min(left, 1.0) * 1000)
            with loop.lock:
                if not loop.read_as_leader(fd):
                    break
    except Exception:
        log.exception("%s: reading confirms on the caller's thread failed", name)
    finally:
        with loop.lock:
            try:
                loop.unlead()
            except Exception:  # the loop closed meanwhile: nothing left to watch
                log.debug("%s: could not hand the socket back", name, exc_info=True)


class SharedIOLoop(IOLoop):  # type: ignore[misc]
    """pika's ``IOLoop`` for an I/O thread that holds ``lock`` except while it waits for events.

    Whoever holds ``lock`` may use the connection: a caller publishes itself instead of
    waking the I/O thread, and a caller waiting for its confirm may ``lead``: read the socket
    itself while the I/O thread stops watching it for reads. Anything that would change what
    the I/O thread waits for (new timers, new sockets) still goes through
    ``add_callback_threadsafe``. Only epoll (Linux) is wrapped; elsewhere the I/O thread never
    lets go, ``try_lock`` says so at once, and callers wake the I/O thread as before.
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
