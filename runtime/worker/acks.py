"""Acks coalesced per channel: one ``basic_ack(multiple=True)`` for a run of finished messages.

One ack frame per message was a large share of ``mserve``'s time per message. Within one
turn of the event loop, finished deliveries are collected; the flush at the end of the turn
acks the longest run of finished tags at the head of the channel's outstanding tags with one
``multiple=True`` ack, and any finished tag behind a gap (a slower message still running) on
its own, so a slow message never holds other messages' prefetch slots.

``multiple=True`` acks every unacked tag up to the one given, so it is used only when every
tag up to it is finished: a tag nacked or acked alone is already settled on the broker.
Pure: a channel is anything with ``is_open`` and ``basic_ack``; no pika import.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("mqwire.worker")


class AckBatcher:
    """Tracks outstanding delivery tags per channel and acks finished ones at the end of a turn."""

    def __init__(self, call_soon: Callable[[Callable[[], None]], Any]) -> None:
        self._call_soon = call_soon
        self._outstanding: dict[Any, collections.deque[int]] = {}
        self._finished: dict[Any, set[int]] = {}
        self._flush_pending = False

    def delivered(self, channel: Any, tag: int) -> None:
        """A delivery arrived (tags grow per channel)."""
        outstanding = self._outstanding.get(channel)
        if outstanding is None:
            outstanding = self._outstanding[channel] = collections.deque()
        outstanding.append(tag)

    def ack(self, channel: Any, tag: int) -> None:
        """Ack ``tag`` at the end of this loop turn."""
        self._finished.setdefault(channel, set()).add(tag)
        if not self._flush_pending:
            self._flush_pending = True
            self._call_soon(self.flush)

    def settled(self, channel: Any, tag: int) -> None:
        """``tag`` was settled otherwise (nack, or dropped): never ack it."""
        outstanding = self._outstanding.get(channel)
        if outstanding is not None and tag in outstanding:
            outstanding.remove(tag)

    def oldest(self, channel: Any) -> int | None:
        """The channel's oldest tag not yet acked or settled: the one a consumer timeout hits."""
        outstanding = self._outstanding.get(channel)
        return outstanding[0] if outstanding else None

    def forget(self, channel: Any) -> None:
        """The channel closed: its tags mean nothing on any other channel."""
        self._outstanding.pop(channel, None)
        self._finished.pop(channel, None)

    def flush(self) -> None:
        """Send the acks collected so far; safe to call any time on the loop thread."""
        self._flush_pending = False
        finished_by_channel, self._finished = self._finished, {}
        for channel, finished in finished_by_channel.items():
            outstanding = self._outstanding.get(channel)
            if outstanding is None or not channel.is_open:
                self.forget(channel)  # the broker redelivers them
                continue
            try:
                self._flush_channel(channel, outstanding, finished)
            except Exception as exc:  # the channel died under us: same as closed
                log.warning("could not ack on a closing channel: %s", exc)
                self.forget(channel)

    @staticmethod
    def _flush_channel(
        channel: Any, outstanding: collections.deque[int], finished: set[int]
    ) -> None:
        highest = None
        while outstanding and outstanding[0] in finished:
            highest = outstanding.popleft()
            finished.discard(highest)
        if highest is not None:
            channel.basic_ack(highest, multiple=True)
        for tag in sorted(finished):  # behind a gap: alone, so the gap does not hold them
            if tag not in outstanding:  # settled already: a second ack would close the channel
                log.error("delivery tag %d finished twice: not acked again", tag)
                continue
            channel.basic_ack(tag)
            outstanding.remove(tag)
