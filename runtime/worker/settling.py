"""How the worker settles a delivery: ack, copy to a delay or dead-letter queue then ack, requeue.

A failed message is re-published (confirmed) before its input is acked, so a crash in between
duplicates it rather than losing it. Settling happens on the delivery's own channel only: once
that channel is closed its tag means nothing, and the broker redelivers the message.

One rule for a copy that cannot be published: its input is never handed back to run at once.
After the copier's bounded attempts it is rejected when the queue has a dead-letter exchange of
its own (the broker dead-letters it), else parked: held unacked while its queue's consumer stops.
Every failure's outcome is recorded in the ledger first, so a redelivery is settled, not re-run.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Container
from functools import partial

from ..dispatch import Action, Delivery, Outcome
from ..errors import Lost, describe_error
from .acks import AckBatcher
from .copying import Copier, Redeclare, Sleep
from .execution import failure_message
from .ledger import Ledger
from .metrics import Metrics
from .policy import WorkerOptions, jittered
from .ports import ConsumerChannel, OutcomePublisher

log = logging.getLogger("mqwire.worker")


class Job:
    """One delivery being worked on, and the channel it must be settled on."""

    __slots__ = ("channel", "delivery", "started", "tag")

    def __init__(self, delivery: Delivery, channel: ConsumerChannel, tag: int) -> None:
        self.delivery, self.channel, self.tag = delivery, channel, tag
        self.started = time.monotonic()


class Settler:
    """Settles jobs and counts and logs each outcome; loop thread only.

    ``park(job, why)`` stops the consumer of the job's queue; ``rejecting`` holds the queues
    with a broker-side dead-letter exchange, whose unsettleable messages are rejected instead.
    """

    def __init__(
        self,
        name: str,
        acks: AckBatcher,
        metrics: Metrics,
        outcomes: OutcomePublisher,
        dead_letter_queue: Callable[[str], str],
        *,
        options: WorkerOptions,
        redeclare: Redeclare,
        park: Callable[[Job, str], None],
        rejecting: Container[str] = (),
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._name, self._acks, self._metrics = name, acks, metrics
        waits = partial(jittered, options.copy_backoff, options.copy_jitter)
        self._copier = Copier(name, outcomes, redeclare, waits, sleep)
        self._dead_letter_queue, self._ledger = dead_letter_queue, Ledger(options.ledger_size)
        self._park, self._rejecting = park, rejecting
        #: Stopping now: leave what is in flight unsettled, the closing connection requeues it.
        self.forced = False

    def recorded(self, delivery: Delivery) -> Outcome | None:
        """The outcome decided before for this redelivered message; it must not run again."""
        entry = self._ledger.get(delivery)
        if entry is None:
            return None
        log.warning(
            "%s: message %s of %r (attempt %d) is back, decided before (%s): settling it "
            "without running its task again", self._name, delivery.message_id, delivery.queue,
            delivery.attempt, entry.outcome.action.value,
        )  # fmt: skip
        return entry.outcome

    async def settle(self, job: Job, outcome: Outcome) -> None:
        """Ack, or publish the failure's copy and ack once it is confirmed (else give up)."""
        d = job.delivery
        if outcome.action is not Action.ACK:
            decided = self._ledger.decided(d, outcome)
            if not decided.copied:
                target = "its copy"
                try:
                    dead_letter_queue = self._dead_letter_queue(d.queue)
                    message = failure_message(d, outcome, dead_letter_queue, now=time.time())
                    target = message.routing_key
                    error = await self._copier.publish(message, partial(self._wanted, job))
                except Exception as exc:  # a bug of ours: as unpublishable as a refused copy
                    error = exc
                if error is not None:
                    self._give_up(job, outcome, target, error)
                    return
                decided.copied = True
        self.finish(job, outcome.task, outcome.action.value, reason=outcome.reason)

    def _wanted(self, job: Job) -> bool:
        return job.channel.is_open and not self.forced

    def _give_up(self, job: Job, outcome: Outcome, target: str, error: Exception) -> None:
        d = job.delivery
        why = f"could not move it to {target!r}: {describe_error(error)}"
        if d.queue in self._rejecting:
            reason = f"{why}; rejected to the queue's own dead-letter exchange"
            self.finish(job, outcome.task, "rejected", reason=reason)
            return
        if not job.channel.is_open or self.forced:  # nothing left to hold: finish says what
            self.finish(job, outcome.task, "parked", reason=why)
            return
        log.error(
            "%s: PARKED queue %r: message %s (attempt %d) %s; it stays unacked and %r is no "
            "longer consumed until the worker reconnects or restarts",
            self._name, d.queue, d.message_id or "-", d.attempt, why, d.queue,
        )  # fmt: skip
        self._park(job, f"message {d.message_id or '-'} {why}")
        self.finish(job, outcome.task, "parked", reason=why)

    def requeue_after_bug(self, job: Job, exc: Exception) -> None:
        log.exception("%s: settling a message of %r failed", self._name, job.delivery.queue)
        self.finish(job, None, "requeue", requeue=True, reason=describe_error(exc))

    def finish(
        self, job: Job, task: str | None, result: str, *, requeue: bool = False, reason: str = ""
    ) -> None:
        """Ack, nack (requeue or reject) or hold on the delivery's own channel; count, log."""
        d, channel = job.delivery, job.channel
        if self.forced:
            # Left outstanding on purpose: no multiple ack may cover it before the close.
            result = "requeue"  # the closing connection gives it back
        elif not channel.is_open:
            if result == "ack":  # the broker redelivers it: settle that, do not run it again
                self._ledger.decided(d, Outcome(Action.ACK, task), copied=True)
            result, reason = "dropped", "its channel closed; the broker redelivers it"
        elif result == "parked":
            pass  # held unacked: outstanding, so no multiple ack covers it
        elif requeue or result == "rejected":
            self._acks.settled(channel, job.tag)
            try:
                channel.basic_nack(job.tag, requeue=requeue)
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
