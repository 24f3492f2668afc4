"""Delayed publishes: a message rewritten onto the delay ladder (``mqwire.topology.delays``),
and read back from it (the local transport, and a task's request on a delivered message)."""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta

from mqwire.topology import delays

from ..errors import EncodeError, Unroutable
from ..wire import WireMessage

__all__ = ["Delay", "DelayClock", "delayed", "seconds_of", "undelayed"]

#: What ``publish(delay=...)`` takes: seconds or a timedelta.
Delay = float | timedelta


def seconds_of(delay: Delay) -> int:
    """``delay`` in the ladder's whole seconds, rounded up; 0 is no delay.

    Raises:
        EncodeError: a negative, non-finite or too long delay, or not a number.
    """
    try:
        return delays.whole_seconds(delay)
    except ValueError as exc:
        raise EncodeError(str(exc)) from None


#: Why a delayed publish fails where the topology declares no ladder.
NO_LADDER = (
    "publish(delay=...) needs the delay ladder, and this topology does not declare it: add "
    "`delays: true` to the topology, compile it and deploy it (mserve or `mqctl apply` "
    "declares the ladder); see docs/delays.md"
)


def delayed(
    message: WireMessage, delay: Delay, targets: Sequence[str], *, ladder: bool = True
) -> WireMessage:
    """``message`` on its way through the ladder; as is when the delay rounds to 0.

    ``targets``: the queues its real exchange and routing key reach, as the publisher's
    topology knows them. The ladder delivers only to those (the delivery exchange binds only
    the topology's bindings), and the broker's ``mandatory`` check sees only the ladder, so an
    unroutable message is refused here, before anything is sent.

    ``ladder``: whether the topology declares the ladder (``delays: true``).

    Raises:
        EncodeError: a bad delay, no ladder, or a routing key too long for the ladder's
            prefix.
        Unroutable: a mandatory message that reaches no queue of the topology.
    """
    seconds = seconds_of(delay)
    if seconds == 0:
        return message
    if not ladder:
        raise EncodeError(NO_LADDER)
    if message.mandatory and not targets:
        raise Unroutable(
            f"NO_ROUTE - a delayed message reaches only the queues the topology binds, and "
            f"none is bound for routing key {message.routing_key!r} on exchange "
            f"{message.exchange!r}",
            message_id=message.message_id,
            exchange=message.exchange,
            routing_key=message.routing_key,
        )
    key = delays.routing_key(seconds, message.exchange, message.routing_key)
    if len(key.encode("utf-8")) > 255:
        raise EncodeError(
            f"routing key {message.routing_key!r} is too long for a delayed publish: with the "
            f"delay's prefix it is {len(key.encode('utf-8'))} bytes, over 255"
        )
    return dataclasses.replace(message, exchange=delays.entry_exchange(seconds), routing_key=key)


def undelayed(message: WireMessage) -> tuple[int, WireMessage]:
    """(seconds, the message as published) of a message on the ladder; (0, it) otherwise."""
    parsed = delays.parse_routing_key(message.routing_key)
    if not delays.is_level_exchange(message.exchange) or parsed is None:
        return 0, message
    seconds, exchange, key = parsed
    return seconds, dataclasses.replace(message, exchange=exchange, routing_key=key)


class DelayClock:
    """The local transport's delayed messages, on a clock that only ``due()`` moves."""

    def __init__(self) -> None:
        #: seconds moved on so far
        self.now = 0.0
        self._waiting: list[tuple[float, int, WireMessage, Callable[[], object]]] = []
        self._order = itertools.count()  # equal times: first held, first released
        self._lock = threading.Lock()

    def hold(self, seconds: float, message: WireMessage, release: Callable[[], object]) -> None:
        """Keep ``message`` until the clock reaches ``now + seconds``, then give ``release``."""
        with self._lock:
            entry = (self.now + seconds, next(self._order), message, release)
            heapq.heappush(self._waiting, entry)

    @property
    def waiting(self) -> list[tuple[float, WireMessage]]:
        """(due time, message) of each message held, soonest first."""
        with self._lock:
            return [(due, message) for due, _, message, _ in sorted(self._waiting)]

    def due(self, seconds: float) -> Iterator[Callable[[], object]]:
        """Move the clock on by ``seconds``: each ``release`` that falls due, soonest first,
        with ``now`` at its time (so what it holds counts from there, and comes too when due
        within ``seconds``); ``now`` ends ``seconds`` on."""
        end = self.now + seconds
        while True:
            with self._lock:
                if not self._waiting or self._waiting[0][0] > end:
                    self.now = end
                    return
                self.now, _, _, release = heapq.heappop(self._waiting)
            yield release
