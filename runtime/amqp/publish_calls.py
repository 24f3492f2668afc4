"""The publisher's callers' side: ``send``, ``submit``, ``collect``, ``acollect`` and ``wait``.

What a caller's thread (or event loop) runs: it frames its messages, hands them to the I/O
thread (or, with the shared I/O loop, publishes them and reads their confirms itself) and
waits for each outcome. :class:`~.transport.AmqpTransport` adds its set-up and the I/O thread's
lifetime; ``transport.py`` tells how the two threads share the work.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import pika  # type: ignore[import-untyped]
from pika import spec

from .._fastpath.shared_loop import held, lead_now, read_until
from ..errors import (
    EncodeError,
    PublishConnectionError,
    PublishError,
    describe_error,
)
from ..wire import WireMessage
from .entries import (
    PENDING,
    Entry,
    Pending,
    blocked_error,
    error_for,
    give_up,
    wait_for,
)
from .publish_io import PublishIo

#: Seconds a caller waits for the I/O thread's lock before handing its messages over instead.
LOCK_WAIT = 0.1
#: With the shared I/O loop, a send of at most this many messages reads its own confirms.
LEAD_AT_MOST = 16


class PublishCalls(PublishIo):
    """What callers run to publish and wait: thread-safe, each outcome reported."""

    _blocked_timeout: float
    _confirm_timeout: float
    _lock: threading.Lock  # guards _closed, _thread, _loop
    _closed: bool
    _ensure_thread: Callable[[], Any]  # in AmqpTransport: starts the I/O thread if need be

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
