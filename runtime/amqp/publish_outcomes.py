"""The publisher's I/O thread, what it makes of the broker's answers: confirms, returns and
alarms become each message's outcome, and a failure fails what it concerns.

The base of :class:`~.publish_io.PublishIo` (the connection and channel it runs on), which
:class:`~.transport.AmqpTransport` builds on; it also holds the I/O thread's state
(``_io_reset``), which both use. Everything named ``_io_*`` belongs to whoever runs the loop
(see ``transport.py``). Split from the connection's lifecycle so each reads alone.
"""

from __future__ import annotations

import collections
import functools
import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import Any, Concatenate, ParamSpec, TypeVar

from pika import spec  # type: ignore[import-untyped]

from ..client_metrics import ConnectionState
from ..errors import (
    PublishConnectionError,
    PublishError,
    describe_error,
    missing_exchange_text,
)
from .entries import (
    Entry,
    blocked_error,
    confirm_outcome,
    confirmed,
    error_for,
    held_over,
    returned_entry,
    settle,
)

log = logging.getLogger("mqwire.publisher")

_P = ParamSpec("_P")
_S = TypeVar("_S", bound="PublishOutcomes")


def _on_loop(
    method: Callable[Concatenate[_S, _P], None],
) -> Callable[Concatenate[_S, _P], None]:
    """Wrap an ioloop callback: a bug in it fails the outstanding messages instead of killing
    the I/O thread (which would leave every later send to time out)."""

    def guarded(self: _S, /, *args: _P.args, **kwargs: _P.kwargs) -> None:
        try:
            method(self, *args, **kwargs)
        except Exception as exc:
            log.exception("%s: internal error in the publisher's I/O thread", self._name)
            self._io_drop_connection(f"internal error in the publisher: {describe_error(exc)}")

    functools.update_wrapper(guarded, method)
    return guarded


class PublishOutcomes:
    """The I/O thread's state, and each message's outcome from what the broker answers."""

    _name: str
    state: ConnectionState
    _loop: Any
    # The connection's lifecycle, in :class:`~.publish_io.PublishIo`:
    _io_pump: Callable[[], None]
    _io_continue_close: Callable[[], None]
    _io_drop_connection: Callable[[str], None]

    def _io_reset(self) -> None:
        self._io_connection: Any = None
        self._io_channel: Any = None
        self._io_ready = False  # channel open and in confirm mode
        self._io_opening = False  # a connection or channel is being opened (or replaced)
        self._io_retiring = False  # the channel nacked: it takes no more, closes once drained
        self._io_closing = False
        self._io_connected_before = False
        self._io_failed_nodes = 0  # nodes that refused a connection in a row
        self._io_next_tag = 0
        self._io_blocked: str | None = None  # the broker's reason while it blocks publishing
        self._io_hold_due = math.inf  # when the armed hold timer fires (inf: none armed)
        self._io_outbox: collections.deque[Entry] = collections.deque()
        self._io_pending: collections.OrderedDict[int, Entry] = collections.OrderedDict()

    def _io_settle(self, entry: Entry, outcome: PublishError | None) -> None:
        settle(entry, outcome)  # nothing to tell a caller that withdrew it

    def _io_fail(self, entries: Sequence[Entry], cause: str) -> None:
        for entry in entries:
            self._io_settle(entry, error_for(PublishConnectionError, cause, entry))

    def _io_fail_all(self, cause: str) -> None:
        pending, outbox = list(self._io_pending.values()), list(self._io_outbox)
        self._io_pending.clear()
        self._io_outbox.clear()
        for entry in pending:
            error = error_for(
                PublishConnectionError,
                cause + " before the confirm; the broker may have the message",
                entry,
                unknown=True,
            )
            self._io_settle(entry, error)
        self._io_fail(outbox, cause + "; the message was not sent")

    @_on_loop
    def _io_on_blocked(self, connection: Any, frame: Any) -> None:
        if connection is not self._io_connection:
            return
        if isinstance(frame.method, spec.Connection.Blocked):
            reason = str(frame.method.reason or "no reason given")
            log.warning("%s: the broker blocks publishing: %s", self._name, reason)
            self.state.set("blocked")
            self._io_blocked = reason
            self._io_hold()
        else:
            log.info("%s: the broker unblocked publishing", self._name)
            self.state.set("connected")
            self._io_blocked = None
            self._io_pump()

    def _io_hold(self) -> None:
        """While blocked: fail the queued messages whose hold is over, wake up for the next."""
        over, kept, due = held_over(self._io_outbox, time.monotonic())
        for entry in over:
            self._io_settle(entry, blocked_error(self._io_blocked or "", entry))
        self._io_outbox = collections.deque(kept)
        if due < self._io_hold_due:  # armed through the I/O thread: it must wake up for it
            self._io_hold_due = due
            self._loop.add_callback_threadsafe(functools.partial(self._io_arm_hold, due))

    @_on_loop
    def _io_arm_hold(self, due: float) -> None:
        self._loop.call_later(max(0.0, due - time.monotonic()), self._io_hold_over)

    @_on_loop
    def _io_hold_over(self) -> None:
        self._io_hold_due = math.inf
        if self._io_blocked is not None:
            self._io_hold()

    def _io_fail_missing_exchange(self, exchange: str | None) -> None:
        """A 404 names an exchange never declared: its messages certainly went nowhere."""
        if exchange is None:
            return
        text = missing_exchange_text(exchange)
        for tag, entry in list(self._io_pending.items()):
            if entry.message.exchange == exchange:
                del self._io_pending[tag]
                self._io_settle(entry, error_for(PublishConnectionError, text, entry))
        for entry in [e for e in self._io_outbox if e.message.exchange == exchange]:
            self._io_outbox.remove(entry)
            self._io_settle(entry, error_for(PublishConnectionError, text, entry))

    @_on_loop
    def _io_on_return(self, channel: Any, method: Any, properties: Any, body: bytes) -> None:
        key = (properties.message_id, method.exchange, method.routing_key)
        entry = returned_entry(self._io_pending.values(), key)
        if entry is None:
            log.warning("%s: basic.return for unknown message %r", self._name, key[0])
        else:
            entry.returned = f"{method.reply_code} {method.reply_text}"

    @_on_loop
    def _io_on_confirm(self, frame: Any) -> None:
        acked = isinstance(frame.method, spec.Basic.Ack)
        for entry in confirmed(self._io_pending, frame.method.delivery_tag, frame.method.multiple):
            self._io_settle(entry, confirm_outcome(entry, acked))
        if not acked and not self._io_retiring and self._io_channel is not None:
            # On 3.10 a channel opened while a quorum queue's new leader is being elected can
            # have every publish nacked for a minute; a new channel is not. So a channel that
            # nacked takes nothing more, and is replaced once its last confirm is in.
            log.info("%s: the broker nacked a publish; continuing on a new channel", self._name)
            self._io_retiring, self._io_ready, self._io_opening = True, False, True
        channel = self._io_channel
        if self._io_retiring and not self._io_pending and channel is not None:
            # Every confirm is in: let it go without waiting for its close-ok (a close
            # crossing the broker's own is never answered), and go on with a new one.
            self._io_channel, self._io_ready, self._io_opening = None, False, False
            self._io_retiring = False
            if channel.is_open:
                channel.close()  # its close callback finds it is no longer current
            self._io_pump()
        self._io_continue_close()
