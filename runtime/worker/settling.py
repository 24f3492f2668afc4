"""How the worker settles a delivery: ack, copy to a delay or dead-letter queue then ack, requeue.

A failed message is re-published (confirmed) before its input is acked, so a crash in between
duplicates it rather than losing it. Settling happens on the delivery's own channel only: once
that channel is closed its tag means nothing, and the broker redelivers the message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from ..dispatch import Action, Delivery, Outcome
from ..errors import Lost, describe_error
from .acks import AckBatcher
from .execution import failure_message
from .metrics import Metrics
from .ports import ConsumerChannel, OutcomePublisher

log = logging.getLogger("mqwire.worker")


class Job:
    """One delivery being worked on, and the channel it must be settled on."""

    __slots__ = ("channel", "delivery", "started", "tag")

    def __init__(self, delivery: Delivery, channel: ConsumerChannel, tag: int) -> None:
        self.delivery, self.channel, self.tag = delivery, channel, tag
        self.started = time.monotonic()


class Settler:
    """Settles jobs and counts and logs each outcome; loop thread only."""

    def __init__(
        self,
        name: str,
        acks: AckBatcher,
        metrics: Metrics,
        outcomes: OutcomePublisher,
        dead_letter_queue: Callable[[str], str],
    ) -> None:
        self._name, self._acks, self._metrics = name, acks, metrics
        self._outcomes, self._dead_letter_queue = outcomes, dead_letter_queue
        #: Stopping now: leave what is in flight unsettled, the closing connection requeues it.
        self.forced = False

    async def settle(self, job: Job, outcome: Outcome) -> None:
        """Ack, or publish the failure's copy and ack once it is confirmed (else requeue)."""
        d = job.delivery
        if outcome.action is not Action.ACK:
            message = failure_message(d, outcome, self._dead_letter_queue(d.queue), now=time.time())
            loop = asyncio.get_running_loop()
            (error,) = await loop.run_in_executor(None, self._outcomes.send, [message])
            if error is not None:
                reason = f"could not move it to {message.routing_key!r}: {error}"
                self.finish(job, outcome.task, "requeue", requeue=True, reason=reason)
                return
        self.finish(job, outcome.task, outcome.action.value, reason=outcome.reason)

    def requeue_after_bug(self, job: Job, exc: Exception) -> None:
        log.exception("%s: settling a message of %r failed", self._name, job.delivery.queue)
        self.finish(job, None, "requeue", requeue=True, reason=describe_error(exc))

    def finish(
        self, job: Job, task: str | None, result: str, *, requeue: bool = False, reason: str = ""
    ) -> None:
        """Ack (or nack with requeue) on the delivery's own channel, then count and log it."""
        d, channel = job.delivery, job.channel
        if self.forced:
            # Left outstanding on purpose: no multiple ack may cover it before the close.
            result = "requeue"  # the closing connection gives it back
        elif not channel.is_open:
            result, reason = "dropped", "its channel closed; the broker redelivers it"
        elif requeue:
            self._acks.settled(channel, job.tag)
            try:
                channel.basic_nack(job.tag, requeue=True)
            except Lost as exc:
                result, reason = "dropped", f"could not settle it: {exc}"
        else:
            self._acks.ack(channel, job.tag)  # sent at the end of this loop turn
        duration = time.monotonic() - job.started
        self._metrics.finished(d.queue, task, result, duration)
        level = logging.INFO if result == "ack" else logging.WARNING
        if log.isEnabledFor(level):
            log.log(
                level, "%s queue=%s task=%s message_id=%s attempt=%d duration=%.3fs%s",
                result, d.queue, task or "-", d.message_id or "-", d.attempt, duration,
                f" reason={reason!r}" if reason and result != "ack" else "",
            )  # fmt: skip
