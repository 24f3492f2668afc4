"""How the worker settles a delivery: ack, copy to a delay or dead-letter queue then ack, requeue.

A failed message is re-published (confirmed) before its input is acked, so a crash in between
duplicates it rather than losing it. Settling happens on the delivery's own channel only: once
that channel is closed its tag means nothing, and the broker redelivers the message.

One rule for a copy that cannot be published: its input is never handed back to run at once.
After the copier's bounded attempts it is rejected when the queue has a dead-letter exchange of
its own (the broker dead-letters it), else parked: held unacked while its queue's consumer stops.
Every failure's outcome is recorded in the ledger first, so a redelivery is settled, not re-run;
so is a run the broker's consumer timeout cut short (a failed attempt), and a job whose channel
is gone publishes no copy: its redelivery does. An input handed straight back after an error of
mqwire's own is requeued at most ``max_requeues`` times, then dead-lettered, then parked.

A copy on its way is never doubled: a redelivery of its input waits for that same copy (which
waits for its confirm across a resource alarm). A retry copy sent again after its connection
was lost before the confirm may reach the queue twice; the second to arrive is acked unrun.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Container
from functools import partial

from ..dispatch import Action, Delivery, Outcome, QueuePolicy, attempt_of, failure_outcome
from ..errors import ConsumerTimeoutExpired, Lost, describe_error
from ..middleware import TaskHooks, TaskOutcome
from .acks import AckBatcher
from .copying import Copier, Redeclare, Sleep
from .execution import failure_message
from .ledger import Decided, Key, Ledger
from .metrics import Metrics
from .policy import WorkerOptions, jittered
from .ports import ConsumerChannel, OutcomePublisher

log = logging.getLogger("mqwire.worker")


class Job:
    """One delivery being worked on, and the channel it must be settled on."""

    __slots__ = ("channel", "delivery", "hooks", "started", "tag")

    def __init__(self, delivery: Delivery, channel: ConsumerChannel, tag: int) -> None:
        self.delivery, self.channel, self.tag = delivery, channel, tag
        self.started = time.monotonic()
        #: the middleware's hooks of its task run: ``after`` once it is settled
        self.hooks: TaskHooks | None = None


class _Copy:
    """A failure's copy on its way, shared by its input's redeliveries; the newest one's
    channel decides whether a further attempt is wanted."""

    __slots__ = ("job", "task")

    def __init__(self, job: Job) -> None:
        self.job = job
        self.task: asyncio.Future[tuple[str, Exception | None]] | None = None


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
        self._max_requeues = options.max_requeues
        self._copies: dict[Decided, _Copy] = {}
        #: retry copies sent twice (key of the copy as it comes back): True once one arrived
        self._twins: OrderedDict[Key, bool] = OrderedDict()
        self._twins_size = options.ledger_size
        #: Stopping now: leave what is in flight unsettled, the closing connection requeues it.
        self.forced = False

    @property
    def expecting_twins(self) -> bool:
        """Whether a retry copy may arrive twice: then every delivery is looked up."""
        return bool(self._twins)

    def recorded(self, delivery: Delivery) -> Outcome | None:
        """The outcome decided before for this redelivered (or twice sent) message; it must
        not run again."""
        if self._twin(delivery):
            log.warning(
                "%s: message %s of %r (attempt %d) arrived twice (its retry copy was sent "
                "again after a lost confirm): acking the second without running its task",
                self._name, delivery.message_id, delivery.queue, delivery.attempt,
            )  # fmt: skip
            return Outcome(Action.ACK, None, reason="a second copy of a retry")
        entry = self._ledger.get(delivery)
        if entry is None:
            return None
        log.warning(
            "%s: message %s of %r (attempt %d) is back, decided before (%s): settling it "
            "without running its task again", self._name, delivery.message_id, delivery.queue,
            delivery.attempt, entry.outcome.action.value,
        )  # fmt: skip
        return entry.outcome

    def timed_out(self, job: Job, policy: QueuePolicy, why: str) -> Outcome:
        """The broker's consumer timeout closed the channel under this job's running task:
        that attempt failed. Recorded, so its redelivery is retried or dead-lettered by the
        queue's policy, never run again at once; the outcome decided (one recorded before wins).
        """
        d = job.delivery
        task = policy.task.name if policy.task else "-"
        error = ConsumerTimeoutExpired(
            f"the broker's consumer timeout expired while task {task} ran (attempt "
            f"{d.attempt}, {time.monotonic() - job.started:.0f} s): {why}"
        )
        outcome = self._ledger.decided(d, failure_outcome(d, policy, error)).outcome
        log.error(
            "%s: message %s of %r (attempt %d) outlived the broker's consumer timeout: %s "
            "when the broker redelivers it", self._name, d.message_id or "-", d.queue,
            d.attempt, "dead-lettered" if outcome.action is Action.DEAD_LETTER else "retried",
        )  # fmt: skip
        return outcome

    async def settle(self, job: Job, outcome: Outcome) -> None:
        """Ack, or publish the failure's copy and ack once it is confirmed (else give up)."""
        d = job.delivery
        if outcome.action is not Action.ACK:
            decided = self._ledger.decided(d, outcome)
            if not decided.copied and not job.channel.is_open:  # its redelivery copies it
                self.finish(job, outcome.task, "dropped", error=outcome.error)
                return
            if not decided.copied:
                target, error = await self._copied(job, decided, outcome)
                if error is not None:
                    why = f"could not move it to {target!r}: {describe_error(error)}"
                    self._give_up(job, outcome.task, why, outcome.error)
                    return
                decided.copied = True
        self.finish(
            job, outcome.task, outcome.action.value, reason=outcome.reason, error=outcome.error
        )

    async def _copied(
        self, job: Job, decided: Decided, outcome: Outcome
    ) -> tuple[str, Exception | None]:
        """Publish the copy, or wait for the one already on its way for an earlier delivery
        of the same message (its fate may be unknown yet: it is never sent twice)."""
        copy = self._copies.get(decided)
        if copy is not None and copy.task is not None:
            copy.job = job
            log.info(
                "%s: message %s of %r is back while its copy is on its way: waiting for that "
                "copy", self._name, job.delivery.message_id, job.delivery.queue,
            )  # fmt: skip
            return await asyncio.shield(copy.task)
        copy = self._copies[decided] = _Copy(job)
        copy.task = asyncio.ensure_future(self._copy(copy, outcome))
        copy.task.add_done_callback(lambda _: self._copies.pop(decided, None))
        return await copy.task  # a forced stop cancels it with the job: withdrawn if unsent

    async def _copy(self, copy: _Copy, outcome: Outcome) -> tuple[str, Exception | None]:
        d, target = copy.job.delivery, "its copy"
        try:
            message = failure_message(d, outcome, self._dead_letter_queue(d.queue), now=time.time())
            target = message.routing_key
            wanted, resent = partial(self._wanted, copy), partial(self._resent, d, outcome)
            error = await self._copier.publish(message, wanted, resent)
        except Exception as exc:  # a bug of ours: as unpublishable as a refused copy
            error = exc
        return target, error

    def _wanted(self, copy: _Copy) -> bool:
        return copy.job.channel.is_open and not self.forced

    def _resent(self, delivery: Delivery, outcome: Outcome, message: object) -> None:
        """A copy is sent again though the first may have reached its queue: a dead letter
        twice is tolerated; a retry's second arrival must not run the task again."""
        key = (delivery.queue, delivery.message_id, delivery.attempt + 1)
        if outcome.action is Action.RETRY and delivery.message_id:  # else no twin to tell
            self._twins[key] = False
            if len(self._twins) > self._twins_size:
                self._twins.popitem(last=False)

    def _twin(self, delivery: Delivery) -> bool:
        """True for the second arrival of a retry copy sent twice (never a redelivery)."""
        key = (delivery.queue, delivery.message_id, attempt_of(delivery.headers))
        if delivery.redelivered or key not in self._twins:
            return False
        if not self._twins[key]:  # the first of the two: it runs
            self._twins[key] = True
            return False
        del self._twins[key]
        return True

    def _give_up(
        self, job: Job, task: str | None, why: str, error: BaseException | None = None
    ) -> None:
        d = job.delivery
        if d.queue in self._rejecting:
            reason = f"{why}; rejected to the queue's own dead-letter exchange"
            self.finish(job, task, "rejected", reason=reason, error=error)
            return
        if not job.channel.is_open or self.forced:  # nothing left to hold: finish says what
            self.finish(job, task, "parked", reason=why, error=error)
            return
        log.error(
            "%s: PARKED queue %r: message %s (attempt %d) %s; it stays unacked and %r is no "
            "longer consumed until the worker reconnects or restarts",
            self._name, d.queue, d.message_id or "-", d.attempt, why, d.queue,
        )  # fmt: skip
        self._park(job, f"message {d.message_id or '-'} {why}")
        self.finish(job, task, "parked", reason=why, error=error)

    def requeue_after_bug(self, job: Job, exc: Exception) -> Outcome | None:
        """An error of mqwire's own: requeue the input, at most ``max_requeues`` times.

        Then a dead-letter ``Outcome`` for the caller to settle; if that settling fails too,
        the input is given up (rejected or parked), so no error repeats without end.
        """
        d = job.delivery
        log.error("%s: handling a message of %r failed", self._name, d.queue, exc_info=exc)
        reason = describe_error(exc)
        if self.forced or not job.channel.is_open:  # nothing to hand back: finish says what
            self.finish(job, None, "requeue", requeue=True, reason=reason)
            return None
        count = self._ledger.requeued(d)
        if count <= self._max_requeues:
            self.finish(job, None, "requeue", requeue=True, reason=reason)
            return None
        why = f"requeued {count - 1} time(s) after errors of mqwire's own, the last: {reason}"
        if count == self._max_requeues + 1:
            return Outcome(Action.DEAD_LETTER, reason=why, error=exc)
        self._give_up(job, None, why)
        return None

    def finish(
        self,
        job: Job,
        task: str | None,
        result: str,
        *,
        requeue: bool = False,
        reason: str = "",
        error: BaseException | None = None,
    ) -> None:
        """Ack, nack (requeue or reject) or hold on the delivery's own channel; count, log,
        and run the middleware's ``after_task`` hooks (``error``: the task's exception)."""
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
            shown = reason if reason and result != "ack" else None
            log.log(
                level, "%s queue=%s task=%s message_id=%s attempt=%d duration=%.3fs%s",
                result, d.queue, task or "-", d.message_id or "-", d.attempt, duration,
                f" reason={shown!r}" if shown else "",
                extra={  # the same, as fields of a --log-format json line
                    "result": result, "queue": d.queue, "task": task,
                    "message_id": d.message_id, "attempt": d.attempt,
                    "duration": round(duration, 6), "reason": shown,
                },
            )  # fmt: skip
        hooks = job.hooks
        if hooks is not None:
            job.hooks = None  # once, whatever comes after
            hooks.after(TaskOutcome(result, error, reason))
