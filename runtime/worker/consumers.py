"""The consuming channels of one connection, one per queue, and reopening one the broker closed.

Each queue consumes on a channel of its own, so delivery tags, prefetch and the broker's
verdicts stay per queue: when the broker closes one queue's channel (a 406 consumer timeout,
an ack it refused), only that queue's unacked deliveries go back, and only that channel is
opened again; the connection and the other queues carry on undisturbed. A queue whose channel
keeps closing waits longer each time before its next one (the reconnect backoff), so a close
that repeats is never a hot loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from functools import partial

from mqwire.topology.model import Queue

from ..errors import Lost, WorkerError
from .policy import backoff
from .ports import ConsumerChannel, OnMessage, Session

log = logging.getLogger("mqwire.worker")

#: ``(queue, channel, reason, consumer_timeout)``: the broker closed that queue's channel.
OnChannelClosed = Callable[[str, ConsumerChannel, str, bool], None]

#: A queue whose channel stayed open this long starts its backoff afresh at its next close.
CALM = 60.0


class Consumers:
    """Which queues consume on which channel, which are parked; loop thread only."""

    def __init__(
        self,
        queues: Sequence[Queue],
        on_message: OnMessage,
        on_cancel: Callable[[str], None],
        on_closed: OnChannelClosed,
        *,
        backoff_cap: float,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.queues = {q.name: q for q in queues}
        self._on_message, self._on_cancel, self._on_closed = on_message, on_cancel, on_closed
        self._backoff_cap, self._sleep, self._clock = backoff_cap, sleep, clock
        self._session: Session | None = None  # the session channels are opened on
        self._reopening: set[asyncio.Task[None]] = set()
        self.channels: dict[str, ConsumerChannel] = {}  # queue -> its channel now
        self.consuming: set[str] = set()
        self.parked: dict[str, str] = {}  # queue -> why its consumer was stopped
        self._waits: dict[str, Iterator[float]] = {}
        self._closed_at: dict[str, float] = {}

    async def open(self, session: Session, ready: Awaitable[None] | None = None) -> None:
        """A channel for every queue on a new session, consuming once ``ready`` (the
        start-up's declarations) is done; redeliveries are settled, so unpark."""
        self.parked.clear()
        self._session = session
        # Each queue's channel is its own: open them side by side, not one round trip after
        # another (start-up).
        opening = [
            asyncio.ensure_future(self.consume(session, name, ready)) for name in self.queues
        ]
        try:
            await asyncio.gather(*opening)
        except BaseException:  # one failed: the session is given up, so are the others
            for task in opening:
                task.cancel()
            await asyncio.gather(*opening, return_exceptions=True)
            raise

    async def open_while_declaring(self, session: Session, declaring: Awaitable[None]) -> None:
        """``open``, its channels set up while ``declaring`` (the start-up's declarations, the
        broker's slowest part of a start-up) runs: they consume once it is done, never before;
        if it failed, its error is the one raised, not the loss it caused on a channel."""
        declared = asyncio.ensure_future(declaring)
        try:
            await self.open(session, ready=declared)
        except asyncio.CancelledError:
            declared.cancel()
            raise
        except Exception:
            await asyncio.wait([declared])  # a loss ends it too
            error = None if declared.cancelled() else declared.exception()
            if error is not None:
                raise error from None
            raise
        await declared  # done already, unless there is no queue to consume

    async def consume(
        self, session: Session, queue: str, ready: Awaitable[None] | None = None
    ) -> None:
        """Open ``queue``'s channel and consume; raises ``Lost`` or a fatal ``WorkerError``."""
        opened: list[ConsumerChannel] = []  # known once consume returns

        def closed(reason: str, consumer_timeout: bool) -> None:
            if opened and self.channels.get(queue) is opened[0]:  # else: consume raises
                self._on_closed(queue, opened[0], reason, consumer_timeout)

        prefetch = self.queues[queue].prefetch
        on_cancel = partial(self._on_cancel, queue)
        channel = await session.consume(queue, prefetch, self._on_message, on_cancel, closed, ready)
        opened.append(channel)
        self.channels[queue] = channel
        self.consuming.add(queue)

    def reopen(
        self, name: str, queue: str, session: Session, on_failed: Callable[[str], None]
    ) -> None:
        """The broker closed ``queue``'s channel: forget it, open another after a wait that
        grows while it keeps closing; ``on_failed(reason)`` if that fails (reconnect)."""
        self.channels.pop(queue, None)
        self.consuming.discard(queue)
        self.parked.pop(queue, None)  # its held message comes back: settled from the ledger
        now = self._clock()
        if now - self._closed_at.get(queue, -CALM) >= CALM:
            self._waits[queue] = backoff(self._backoff_cap)
        self._closed_at[queue] = now
        wait = next(self._waits[queue])
        task = asyncio.get_running_loop().create_task(
            self._reopen(name, queue, session, wait, on_failed)
        )
        self._reopening.add(task)
        task.add_done_callback(self._reopening.discard)

    async def _reopen(
        self, name: str, queue: str, session: Session, wait: float,
        on_failed: Callable[[str], None],
    ) -> None:  # fmt: skip
        await self._sleep(wait)
        if session is not self._session:
            return  # a reconnect opens every channel anew
        try:
            await self.consume(session, queue)
        except (Lost, WorkerError) as exc:  # the connection may be going: start over
            on_failed(f"reopening the channel of {queue!r}: {exc}")
            return
        log.info("%s: consuming %s again", name, queue)

    def park(self, queue: str, channel: ConsumerChannel, why: str) -> None:
        """Stop consuming ``queue`` (its channel only): the message in doubt stays unacked."""
        channel.cancel()
        self.consuming.discard(queue)
        self.parked[queue] = why

    def cancel_all(self) -> None:
        """No new deliveries on any channel (stopping); what is in flight settles as usual."""
        self._session = None  # nor on a channel reopened from now on
        for task in self._reopening:
            task.cancel()
        for channel in self.channels.values():
            channel.cancel()

    def lost(self) -> None:
        """The connection is gone or going: nothing consumes any more."""
        self.consuming.clear()

    def drop_all(self) -> list[ConsumerChannel]:
        """Forget every channel (the connection closes them); the ones forgotten."""
        self._session = None
        for task in self._reopening:
            task.cancel()
        channels = list(self.channels.values())
        self.channels.clear()
        self.consuming.clear()
        return channels

    def readiness(self, name: str) -> tuple[bool, str]:
        if self.parked:
            parked = "; ".join(f"{q}: {why}" for q, why in sorted(self.parked.items()))
            return False, f"{name}: parked {parked}"
        missing = sorted(set(self.queues) - self.consuming)
        if missing:
            return False, f"{name}: not consuming {', '.join(missing)}"
        return True, f"{name}: consuming {len(self.queues)} queue(s)"
