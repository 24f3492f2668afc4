"""The publisher's I/O-thread half: one connection and one confirm-mode channel, driven by
pika's ioloop, opened when a message needs them, replaced when lost, closed at the end.

:class:`~.transport.AmqpTransport` (the callers' half) hands messages over through ``_inbox``;
everything named ``_io_*`` belongs to whoever runs the loop (the I/O thread, or a caller holding
the shared loop's lock, see ``transport.py``). Split from the callers' half so each reads alone;
what confirms, returns, closes and alarms mean for each message is in ``publish_outcomes.py``.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable
from typing import Any

from .._fastpath.shared_loop import io_thread_lock
from .._fastpath.switch import Fastpath
from ..errors import (
    PublishConnectionError,
    PublishTlsError,
    describe_error,
    missing_exchange,
)
from .connections import select_connection
from .entries import Entry, claim, error_for
from .nodes import Nodes
from .params import tls_refusal
from .publish_outcomes import PublishOutcomes, _on_loop

log = logging.getLogger("mqwire.publisher")

#: Seconds ``close()`` lets in-flight confirms arrive and the connection close cleanly.
CLOSE_GRACE = 5.0


class PublishIo(PublishOutcomes):
    """The connection and channel that only the loop's holder touches: opened when a message
    needs them, replaced when lost, closed at the end."""

    _scrub: Callable[[str], str]
    _nodes: Nodes
    _fastpath: Fastpath
    _inbox: collections.deque[list[Entry]]

    def _run(self, loop: Any) -> None:
        try:
            loop.start()
        except Exception as exc:
            log.exception("%s: the publisher's I/O thread failed", self._name)
            with io_thread_lock(loop):  # no caller may publish on the dead connection meanwhile
                self._io_ready = False
                self.state.set("reconnecting")  # a new thread, on the next send
                self._io_fail_all(f"the publisher's I/O thread failed: {describe_error(exc)}")

    @_on_loop
    def _io_drain_inbox(self) -> None:
        while self._inbox:
            self._io_outbox.extend(self._inbox.popleft())
        self._io_pump()

    def _io_pump(self) -> None:
        """Move queued messages on: publish them, or open what is missing to publish them."""
        if not self._io_outbox or self._io_opening:
            return
        if self._io_closing:
            self._io_fail(list(self._io_outbox), "publisher is closed")
            self._io_outbox.clear()
        elif self._io_ready:
            self._io_publish()
        elif self._io_connection is None:
            self._io_opening = True
            if not self._io_connected_before:
                self.state.set("connecting")
            self._io_connection = select_connection(self._fastpath)(
                self._nodes.current,
                on_open_callback=self._io_on_connection_open,
                on_open_error_callback=self._io_on_connection_open_error,
                on_close_callback=self._io_on_connection_closed,
                custom_ioloop=self._loop,
            )
            # An alarm blocks publishing: messages not yet written wait, or fail fast.
            self._io_connection.add_on_connection_blocked_callback(self._io_on_blocked)
            self._io_connection.add_on_connection_unblocked_callback(self._io_on_blocked)
        else:
            self._io_opening = True
            self._io_connection.channel(on_open_callback=self._io_on_channel_open)

    def _io_publish(self) -> None:
        if self._io_blocked is not None:
            self._io_hold()
            return
        while self._io_outbox:
            entry = self._io_outbox.popleft()
            if not claim(entry):  # withdrawn; else from here on it may reach the broker
                continue
            m = entry.message
            try:
                self._io_channel.basic_publish(
                    m.exchange, m.routing_key, m.body, entry.properties, mandatory=m.mandatory
                )
            except Exception as exc:  # nothing was sent: pika frames before writing
                cause = f"could not publish: {self._scrub(describe_error(exc))}"
                self._io_settle(entry, error_for(PublishConnectionError, cause, entry))
                continue
            self._io_next_tag += 1
            self._io_pending[self._io_next_tag] = entry

    @_on_loop
    def _io_on_connection_open(self, connection: Any) -> None:
        verb = "reconnected" if self._io_connected_before else "connected"
        log.info("%s: %s to %s", self._name, verb, self._nodes.where)
        self.state.set("connected")
        self._io_connected_before = True
        self._io_failed_nodes = 0
        self._io_opening = False
        self._io_pump()
        self._io_continue_close()

    @_on_loop
    def _io_on_connection_open_error(self, connection: Any, exc: BaseException) -> None:
        self._io_connection, self._io_opening = None, False
        if self._io_closing:
            self._loop.stop()
            return
        self.state.set("reconnecting")  # on the next send
        # No retry fixes it: a configuration error, said plainly. (A probe may block this
        # thread a few seconds, only after a TLS connection ended silently.)
        tls = tls_refusal(exc, self._nodes.current)
        why = tls or describe_error(exc)
        cause = f"could not connect to {self._nodes.where}: {self._scrub(why)}"
        log.warning("%s: %s", self._name, cause)
        self._nodes.move_on()  # a cluster's next node, for the next attempt
        self._io_failed_nodes += 1
        if tls is None and self._io_failed_nodes < len(self._nodes):
            self._io_pump()  # nothing was written: try the cluster's next node now
            return
        self._io_failed_nodes = 0  # every node refused: the next send starts a new round
        while tls is not None and self._io_outbox:  # the connection never opened: unsent
            entry = self._io_outbox.popleft()
            self._io_settle(entry, error_for(PublishTlsError, cause, entry))
        self._io_fail_all(cause)

    @_on_loop
    def _io_on_connection_closed(self, connection: Any, exc: BaseException) -> None:
        if connection is not self._io_connection:
            return
        self._io_connection = self._io_channel = None
        self._io_ready = self._io_opening = self._io_retiring = False
        self._io_blocked = None  # a new connection starts unblocked
        if self._io_closing:
            self._io_fail_all("publisher is closed")
            self._loop.stop()
            return
        self.state.set("reconnecting")  # on the next send
        cause = f"connection to {self._nodes.where} lost: {self._scrub(describe_error(exc))}"
        log.warning("%s: %s", self._name, cause)
        self._nodes.move_on()
        self._io_fail_all(cause)

    @_on_loop
    def _io_on_channel_open(self, channel: Any) -> None:
        self._io_channel, self._io_next_tag, self._io_retiring = channel, 0, False
        channel.add_on_close_callback(self._io_on_channel_closed)
        channel.add_on_return_callback(self._io_on_return)
        channel.confirm_delivery(
            ack_nack_callback=self._io_on_confirm, callback=self._io_on_confirm_mode
        )

    @_on_loop
    def _io_on_confirm_mode(self, frame: Any) -> None:
        self._io_ready, self._io_opening = True, False
        self._io_pump()

    @_on_loop
    def _io_on_channel_closed(self, channel: Any, exc: BaseException) -> None:
        if channel is not self._io_channel:
            return
        self._io_channel, self._io_ready, self._io_opening = None, False, False
        if self._io_connection is None or not self._io_connection.is_open:
            return  # the connection is closing: its callback reports everything
        cause = f"channel closed: {self._scrub(describe_error(exc))}"
        log.warning("%s: %s", self._name, cause)
        self._io_fail_missing_exchange(missing_exchange(exc))
        self._io_fail_all(cause)  # the next send opens a new channel
        self._io_continue_close()

    @_on_loop
    def _io_shutdown(self) -> None:
        """Fail what is not sent yet, let in-flight confirms arrive, then close."""
        self._io_closing = True
        self._io_fail(list(self._io_outbox), "publisher is closed")
        self._io_outbox.clear()
        self._loop.call_later(CLOSE_GRACE, self._io_give_up)
        self._io_continue_close()

    def _io_continue_close(self) -> None:
        """While closing: once no confirm is outstanding, close the connection, then stop."""
        if not self._io_closing or self._io_pending:
            return
        connection = self._io_connection
        if connection is None:
            self._loop.stop()
        elif not (connection.is_closing or connection.is_closed):
            # Open: its close callback stops the loop; opening: its open-error callback does.
            connection.close()

    @_on_loop
    def _io_give_up(self) -> None:
        self._io_fail_all("publisher was closed")
        self._loop.stop()

    def _io_drop_connection(self, cause: str) -> None:
        """After an internal error: report everything outstanding, start afresh on next send."""
        self._io_fail_all(cause)
        connection, closing = self._io_connection, self._io_closing
        connected_before = self._io_connected_before
        self._io_reset()
        self._io_closing, self._io_connected_before = closing, connected_before
        self.state.set("closed" if closing else "reconnecting")
        if connection is not None and not (connection.is_closing or connection.is_closed):
            try:
                connection.close()  # its callbacks are ignored: it is no longer current
            except Exception:
                log.debug("%s: closing the dropped connection failed", self._name, exc_info=True)
        if closing:
            self._loop.stop()
