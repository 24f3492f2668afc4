"""The publishing edge of the RabbitMQ publisher: send encoded messages, report each outcome.

Web applications publish from many threads, and pika objects are not thread-safe. So each
transport owns one daemon I/O thread running a pika ``SelectConnection`` ioloop, with one
connection and one channel in confirm mode. :meth:`AmqpTransport.send` hands its messages to
that thread and waits on one ``Future`` per message: messages of a call are published back to
back and their confirms awaited together, and concurrent callers share the connection.

Pika objects and the ``_io_*`` state belong to the I/O thread: a caller appends to ``_inbox``
and wakes the loop with ``add_callback_threadsafe``. With the shared I/O loop fast path
(``MQWIRE_FASTPATH``, ``_fastpath/shared_loop.py``) they belong to whoever holds the loop's
lock: the I/O thread, except while it waits for events. Then a caller takes the lock and
publishes its own messages, and a caller waiting for a few confirms reads the socket itself
meanwhile, so a publish one by one involves no other thread; reconnects, timers and
everything else happen on the I/O thread.

While the broker blocks the connection (a memory or disk alarm), messages not yet written stay
in the outbox: each for at most its ``blocked_timeout`` (0 by default: ``PublishBlocked`` at
once), and they go out when the broker unblocks. What was written before keeps waiting for its
confirm. An entry's future is ``cancel()``-able exactly as long as nothing of it was written, so
a caller that stops waiting knows whether the message may still arrive.
"""

from __future__ import annotations

import collections
import logging
import threading
from typing import Any

from mqwire.topology.credentials import mask_resolved_url

from .._fastpath.switch import Fastpath, for_process
from .._fastpath.writes import close_socket
from ..client_metrics import ConnectionState
from ..tls import TlsSettings
from .connections import publisher_loop
from .entries import Entry
from .nodes import Nodes
from .params import scrubber
from .publish_calls import PublishCalls
from .publish_io import CLOSE_GRACE

log = logging.getLogger("mqwire.publisher")


class AmqpTransport(PublishCalls):
    """Publishes ``WireMessage``s on one confirm-mode channel; thread-safe; never drops silently."""

    def __init__(
        self,
        url: str,
        *,
        name: str = "publisher",
        connect_timeout: float = 10.0,
        confirm_timeout: float = 30.0,
        heartbeat: int | None = None,
        fastpath: Fastpath | None = None,
        blocked_timeout: float = 0.0,
        state: ConnectionState | None = None,
        tls: TlsSettings | None = None,
        first_node: int | None = None,
    ) -> None:
        """Parse settings only (:class:`ConfigurationError` on a bad URL, ``tls`` file or
        ``MQWIRE_FASTPATH``); the connection opens on the first :meth:`send`.

        ``confirm_timeout`` bounds a whole ``send`` (including a reconnect), so keep
        ``connect_timeout`` below it for unreachable brokers to be reported as such.
        ``blocked_timeout`` is how long a message may wait, unsent, while the broker blocks
        the connection (``math.inf``: until it unblocks); it adds to the ``send``'s bound.
        ``fastpath`` defaults to the process's choice (``MQWIRE_FASTPATH``). ``state`` follows
        the connection (connecting, connected, blocked, reconnecting, closed) for metrics.
        ``url``: one URL, or a cluster's separated by blanks; a failed or lost connection moves
        to the next node, starting at ``first_node`` (default: a random one).
        """
        if not blocked_timeout >= 0:
            raise ValueError(f"blocked_timeout must be 0 or more seconds, not {blocked_timeout}")
        self._blocked_timeout = blocked_timeout
        self._fastpath = fastpath if fastpath is not None else for_process()
        self._name = name
        self.state = state or ConnectionState(name)
        self._masked_url = mask_resolved_url(url)  # every node's, for a cluster
        self._scrub = scrubber(url)
        self._nodes = Nodes(
            url, name=name, tls=tls, heartbeat=heartbeat, connect_timeout=connect_timeout,
            first=first_node,
        )  # fmt: skip
        self._confirm_timeout = confirm_timeout
        self._lock = threading.Lock()  # guards _closed, _thread, _loop
        self._closed = False
        self._thread: threading.Thread | None = None
        self._loop: Any = None
        self._inbox: collections.deque[list[Entry]] = collections.deque()
        self._io_reset()

    def __repr__(self) -> str:
        # pika logs callbacks with %r at DEBUG: keep this free of secrets and bodies.
        return f"<AmqpTransport {self._name!r} {self._masked_url}>"

    @property
    def blocked(self) -> str | None:
        """The broker's reason while it blocks this connection (a resource alarm), else None.

        The broker says so only once the connection publishes after the alarm began.
        """
        return self._io_blocked

    def close(self) -> None:
        """Close the connection cleanly and stop the I/O thread; idempotent."""
        with self._lock:
            first = not self._closed
            self._closed = True
            thread, loop = self._thread, self._loop
        if thread is None:
            self.state.set("closed")
            return
        if first and thread.is_alive():
            loop.add_callback_threadsafe(self._io_shutdown)
        thread.join(CLOSE_GRACE + 2.0)
        if thread.is_alive():
            log.warning("%s: the publisher's I/O thread did not stop in time", self._name)
        elif first:
            self._release(loop)
        self.state.set("closed")

    def _ensure_thread(self) -> Any:
        """Start the I/O thread if there is none (first send, or it died, or after a fork)."""
        if self._thread is None or not self._thread.is_alive():
            if self._thread is not None:
                log.warning("%s: the publisher's I/O thread had stopped; restarting", self._name)
                self._release(self._loop)
            self._io_reset()  # the old thread is gone: nobody else touches this state
            self._loop = publisher_loop(self._fastpath)
            self._thread = threading.Thread(
                target=self._run,
                args=(self._loop,),
                name=f"mqwire.publisher[{self._name}]",
                daemon=True,
            )
            self._thread.start()
        return self._loop

    def _release(self, loop: Any) -> None:
        """Close what a stopped I/O thread leaves: its connection's socket, if one is still
        open (it died mid-connection), and the loop's own sockets. Its thread is gone."""
        try:
            close_socket(self._io_connection)
            loop.close()
        except Exception:  # nothing to do about it but not to leak the rest
            log.debug("%s: releasing the I/O thread's sockets failed", self._name, exc_info=True)
