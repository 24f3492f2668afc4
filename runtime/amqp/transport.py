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

import asyncio
import collections
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

import pika  # type: ignore[import-untyped]
from pika import spec

from mqwire.topology.credentials import mask_resolved_url

from .._fastpath.shared_loop import held, lead_now, read_until
from .._fastpath.switch import Fastpath, for_process
from .._fastpath.writes import close_socket
from ..client_metrics import ConnectionState
from ..errors import (
    EncodeError,
    PublishConnectionError,
    PublishError,
    describe_error,
)
from ..tls import TlsSettings
from ..wire import WireMessage
from .connections import publisher_loop
from .entries import (
    PENDING,
    Entry,
    Pending,
    blocked_error,
    error_for,
    give_up,
    wait_for,
)
from .nodes import Nodes
from .params import scrubber
from .publish_io import CLOSE_GRACE, PublishIo

log = logging.getLogger("mqwire.publisher")

#: Seconds a caller waits for the I/O thread's lock before handing its messages over instead.
LOCK_WAIT = 0.1
#: With the shared I/O loop, a send of at most this many messages reads its own confirms.
LEAD_AT_MOST = 16


class AmqpTransport(PublishIo):
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

    def send(
        self, messages: Sequence[WireMessage], *, blocked_timeout: float | None = None
    ) -> list[PublishError | None]:
        """Publish ``messages``, wait for their confirms, return one outcome each, in order.

        ``None`` means confirmed by the broker. Returns within ``confirm_timeout`` seconds,
        plus ``blocked_timeout`` (default: the transport's) while the broker blocks it.
        Raises :class:`EncodeError` (before anything is sent) if a message cannot be framed.
        """
        entries, fd = self._submit(messages, blocked_timeout, lead=True)
        return self._collect(entries, fd)

    def submit(
        self,
        messages: Sequence[WireMessage],
        *,
        blocked_timeout: float | None = None,
        lock_wait: float = LOCK_WAIT,
    ) -> Sequence[Any]:
        """Hand ``messages`` to the I/O thread without waiting; pass the result to ``collect``
        or ``wait``. Each item's ``future`` ends with its outcome.

        Lets a batch keep the next chunk on the wire while the broker confirms the last one.
        While the broker blocks the connection, a message waits at most ``blocked_timeout``
        seconds (default: the transport's) before it fails with :class:`PublishBlocked`.
        Raises :class:`EncodeError` (before anything of this call is sent). ``lock_wait``:
        how long to wait for the shared I/O loop's lock before handing the messages over (an
        event loop's thread passes 0: it never waits for another thread).
        """
        return self._submit(messages, blocked_timeout, lead=False, lock_wait=lock_wait)[0]

    def _submit(
        self,
        messages: Sequence[WireMessage],
        blocked_timeout: float | None,
        *,
        lead: bool,
        lock_wait: float = LOCK_WAIT,
    ) -> tuple[list[Entry], int | None]:
        """``submit``, and with ``lead`` (``send``, which collects at once) the socket this
        thread now leads, if it published a few messages itself (shared I/O loop)."""
        hold = self._blocked_timeout if blocked_timeout is None else max(0.0, blocked_timeout)
        entries = [self._entry(m, hold) for m in messages]
        if not entries:
            return entries, None
        with self._lock:
            if self._closed:
                for entry in entries:
                    entry.future.set_result(
                        error_for(PublishConnectionError, "publisher is closed", entry)
                    )
                return entries, None
            blocked = self._io_blocked
            if blocked is not None and hold <= 0:  # known blocked: fail fast, not sent
                for entry in entries:
                    entry.future.set_result(blocked_error(blocked, entry))
                return entries, None
            loop = self._ensure_thread()
            # A shared loop's I/O thread holds the lock only while it handles events; the
            # timeout covers a stall there: the message then goes the usual way.
            with held(loop, lock_wait) as mine:  # the I/O thread waits: send ourselves
                if mine and self._io_ready and not (self._inbox or self._io_outbox):
                    self._io_outbox.extend(entries)
                    self._io_drain_inbox()  # nothing in it: publishes what we queued
                    # Read our confirms ourselves, from before the first can arrive.
                    leads = lead and len(entries) <= LEAD_AT_MOST and self._io_blocked is None
                    return entries, lead_now(loop) if leads and self._io_ready else None
            self._inbox.append(entries)  # not passed to the callback: pika would log its repr
            loop.add_callback_threadsafe(self._io_drain_inbox)
        return entries, None

    def collect(self, submitted: Sequence[Any]) -> list[PublishError | None]:
        """Wait for the confirms of what ``submit`` returned, at most ``confirm_timeout`` s
        (plus the entries' ``blocked_timeout``); then give up on the rest.

        A message not written by then is withdrawn (:class:`PublishBlocked` while the broker
        blocks the connection, else :class:`PublishTimeout`): it will never be sent. One
        written but unconfirmed gets a :class:`PublishTimeout` with ``outcome_unknown``: it
        may still be confirmed, and delivered, later.
        """
        return self._collect(submitted, None)

    def _collect(self, submitted: Sequence[Any], fd: int | None) -> list[PublishError | None]:
        waited = self.wait(submitted, self._collect_timeout(submitted), fd)
        return self._given_up(submitted, waited)

    async def acollect(self, submitted: Sequence[Any]) -> list[PublishError | None]:
        """``collect`` for a coroutine: the confirms are awaited on the running event loop,
        which goes on running everything else meanwhile; the same bound, the same outcomes.

        Cancelled while waiting (a task's timeout), it withdraws what was not written yet
        and raises ``CancelledError``; what was written may still arrive.
        """
        if submitted:
            waiters = [asyncio.wrap_future(entry.future) for entry in submitted]
            try:
                await asyncio.wait(waiters, timeout=self._collect_timeout(submitted))
            except asyncio.CancelledError:
                for entry in submitted:
                    entry.future.cancel()  # only an unwritten message can be withdrawn
                raise
        return self._given_up(submitted, wait_for(submitted, 0.0))

    def _collect_timeout(self, submitted: Sequence[Any]) -> float:
        return self._confirm_timeout + max((entry.hold for entry in submitted), default=0.0)

    def _given_up(
        self, submitted: Sequence[Any], waited: Sequence[PublishError | Pending | None]
    ) -> list[PublishError | None]:
        return [
            give_up(entry, self._io_blocked, self._confirm_timeout) if o is PENDING else o
            for entry, o in zip(submitted, waited, strict=True)
        ]

    def wait(
        self, submitted: Sequence[Any], timeout: float, fd: int | None = None
    ) -> list[PublishError | Pending | None]:
        """Wait up to ``timeout`` s for what ``submit`` returned; ``PENDING`` for each message
        still on its way, which stays so: a later ``wait`` (or ``collect``) goes on waiting.

        For a message already written, giving up loses the answer, not the message: the
        broker may still take it. Keep waiting rather than publish it again. ``fd``: the
        socket this thread leads already (``_submit``), handed back here.
        """
        deadline = time.monotonic() + timeout
        leading = 0 < len(submitted) <= LEAD_AT_MOST and self._io_blocked is None
        if fd is not None or (leading and self._loop is not None):
            # Saves the cross-thread wake-up per confirm (shared I/O loop only; else no-op).
            # Not while blocked: the I/O thread's timer, not the socket, ends a held message.
            read_until(
                self._loop,
                lambda: all(entry.future.done() for entry in submitted),
                deadline,
                lambda: self._io_ready,
                self._name,
                fd,
            )
        return wait_for(submitted, deadline)

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

    # -- caller threads ----------------------------------------------------------------------

    def _entry(self, message: WireMessage, hold: float = 0.0) -> Entry:
        """Build and frame the message now: a bad one fails its caller, not the shared channel."""
        try:
            props = dict(message.properties)
            if props.setdefault("message_id", message.message_id) != message.message_id:
                raise ValueError("properties['message_id'] differs from message_id")
            if not isinstance(message.body, bytes):
                raise TypeError(f"body must be bytes, not {type(message.body).__name__}")
            properties = pika.BasicProperties(**props)
            properties.encode()
            spec.Basic.Publish(exchange=message.exchange, routing_key=message.routing_key).encode()
        except Exception as exc:
            raise EncodeError(
                f"message {message.message_id!r} cannot be published: {describe_error(exc)}"
            ) from exc
        return Entry(message, properties, hold, time.monotonic() + hold)

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
