"""The jobs in flight and how each one ends: acked at once, or judged and settled in a task.

Each job maps to what it waits on: its running task (a thread's future, or the coroutine's
asyncio task), then, once that failed, the task that settles it. Stopping waits on these and
a channel the broker closed looks its jobs up here. A redelivery of a message whose first run
still goes on (its channel or connection closed under it) waits here for that run to end
(``follow``), so one attempt never runs twice at once. Loop thread only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from ..dispatch import Delivery, Outcome, QueuePolicy
from .execution import Started, finish, start_task
from .ledger import Ledger
from .settling import Job, Settler


class Jobs:
    """Every job from its delivery until it is settled (or dropped)."""

    def __init__(self, settler: Settler, policies: Mapping[str, QueuePolicy]) -> None:
        self._settler, self._policies = settler, policies
        #: its running task, or the one settling it
        self.waiting: dict[Job, asyncio.Future[Any]] = {}
        #: what to do once a job has left ``waiting`` (settled or dropped)
        self._followers: dict[Job, list[Callable[[], None]]] = {}

    def original_of(self, delivery: Delivery) -> Job | None:
        """The job still at work on this redelivered message (same queue, id and attempt)
        whose channel has closed under it; None if there is none (or the message has no id)."""
        key = Ledger.key_of(delivery)
        if key is None:
            return None
        return next(
            (
                job
                for job in self.waiting
                if not job.channel.is_open and Ledger.key_of(job.delivery) == key
            ),
            None,
        )

    def follow(self, original: Job, follower: Job, then: Callable[[], None]) -> None:
        """Hold ``follower`` (stopping waits for it too) until ``original`` is done, then call
        ``then``, which settles or starts it."""
        held: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting[follower] = held

        def release() -> None:
            if self.waiting.get(follower) is held:
                del self.waiting[follower]
            if not held.done():
                held.set_result(None)
            then()

        self._followers.setdefault(original, []).append(release)

    def _left(self, job: Job) -> None:
        """``job`` left ``waiting``: release what waited for it."""
        for release in self._followers.pop(job, ()):
            release()

    def on(self, channel: object) -> dict[Job, asyncio.Future[Any]]:
        """The jobs delivered on ``channel``."""
        return {job: future for job, future in self.waiting.items() if job.channel is channel}

    def cancel_all(self) -> None:
        for future in self.waiting.values():
            future.cancel()

    def started(self, job: Job, started: Outcome | Started | Exception) -> None:
        """A delivery was decoded and its task set going (or it was decided, or we failed)."""
        if isinstance(started, Exception):
            self.after_bug(job, started)
        elif isinstance(started, Started):
            job.hooks = started.hooks  # after_task once it is settled
            # Nothing to do on the loop until the task is done (its time limit is the
            # future's): settle then, so the loop goes idle (and lets a thread have the GIL)
            # without building another task first.
            running = started.running
            if running.done():  # a root factory that failed, or (3.12+) an async def that
                self._on_done(job, started, running)  # never waited: settle it now
                return
            self.waiting[job] = running
            running.add_done_callback(partial(self._on_done, job, started))
        else:
            self.settle_soon(job, started)

    def _on_done(self, job: Job, started: Started, running: asyncio.Future[Any]) -> None:
        """A task ended: ack a success at once, judge anything else (a timeout too) in a task.

        Most messages succeed, and acking one is synchronous: no task and coroutines to build.
        """
        if running.cancelled() or running.exception() is not None:
            self.settle_soon(job, started)
            return
        self.waiting.pop(job, None)
        try:
            self._settler.finish(job, started.task.name, "ack")
        except Exception as exc:  # a bug of ours: never lose the message, never kill the loop
            self.after_bug(job, exc)
        if job not in self.waiting:
            self._left(job)

    def settle_soon(self, job: Job, started: Outcome | Started) -> None:
        task = start_task(self._process(job, started))
        if not task.done():  # on 3.12+ it may have finished already
            self.waiting[job] = task

    async def _process(self, job: Job, started: Outcome | Started) -> None:
        try:
            outcome = await finish(job.delivery, self._policies[job.delivery.queue], started)
            await self._settler.settle(job, outcome)
        except asyncio.CancelledError:
            reason = "stopped before it finished"
            self._settler.finish(job, None, "requeue", requeue=True, reason=reason)
        except Exception as exc:  # a bug of ours: never lose the message, never kill the loop
            self.after_bug(job, exc)
        finally:
            current = self.waiting.get(job)  # keep a dead letter's task started after a bug
            if current is not None and (current is asyncio.current_task() or current.done()):
                del self.waiting[job]
            if job not in self.waiting:
                self._left(job)

    def after_bug(self, job: Job, exc: Exception) -> None:
        """Requeue after an error of ours, bounded: then dead-letter, then give up."""
        outcome = self._settler.requeue_after_bug(job, exc)
        if outcome is not None:
            self.settle_soon(job, outcome)


def culprit(jobs: Mapping[Job, asyncio.Future[Any]], oldest: int | None) -> Job | None:
    """The job a consumer timeout cut short: the channel's oldest unacked delivery, if its task
    had started (a job no thread had taken is cancelled, not counted: it never ran)."""
    return next(
        (job for job, running in jobs.items() if job.tag == oldest and not running.cancelled()),
        None,
    )
