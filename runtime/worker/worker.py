"""The worker: consume a publisher_consumer's queues on the running loop, until stopped.

One ``Worker`` per publisher_consumer. It owns one consuming session (one channel per queue,
each with its own prefetch: ``consumers``), touched only from the loop thread: every ack and
nack happens there. A channel the broker closes alone (its consumer timeout) is reopened alone;
the run it cut short counts as a failed attempt (``Settler.timed_out``). Retries and dead letters
are published through the outcomes publisher (its own connection, confirmed), and the input is
acked only after that confirm (``settling``). Both are injected (``mserve`` passes the AMQP
ones), so the worker knows nothing of pika. Nothing here recurses: ``run`` is a flat reconnect
loop, and a delivery tag of a dead channel is dropped (the broker redelivers it), never acked
on a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import cast

from mqwire.topology.declarations import Declarations
from mqwire.topology.model import Queue

from ..dispatch import Delivery, Outcome
from ..errors import ExitCode, Lost, WorkerError
from ..interrupt import thread_interrupt
from ..wiring.registry import Registry
from .acks import AckBatcher
from .consumers import Consumers
from .copying import redeclare
from .execution import Started, start
from .jobs import Jobs, culprit
from .metrics import Metrics
from .policy import WorkerOptions, backoff
from .ports import ConsumerChannel, OutcomePublisher, Session, SessionFactory
from .settling import Job, Settler
from .stopping import drain
from .stuck import StuckTasks
from .task_threads import TaskThreads

log = logging.getLogger("mqwire.worker")


class Worker:
    """Consumes one publisher_consumer's queues until stopped; ``run()`` returns the exit code."""

    def __init__(
        self,
        name: str,
        queues: Sequence[Queue],
        plan: Declarations,
        registry: Registry,
        metrics: Metrics,
        *,
        connect: SessionFactory,
        outcomes: OutcomePublisher,
        options: WorkerOptions | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        stuck: StuckTasks | None = None,
    ) -> None:
        """``connect(on_lost)`` opens a session per (re)connection; ``outcomes`` publishes the
        retry and dead-letter copies and is closed when ``run`` ends; ``sleep`` waits between
        attempts at a copy (tests pass one that does not). ``stuck`` counts the process's
        abandoned tasks (shared by its workers); every worker stops when it is full."""
        self.name = name
        self._queues, self._plan, self._registry = list(queues), plan, registry
        self._metrics, self._options = metrics, options or WorkerOptions()
        self._connect, self._outcomes = connect, outcomes
        loop = asyncio.get_running_loop()  # built on the loop it serves
        options = self._options
        self._stuck = stuck or StuckTasks(options.max_stuck)
        self._stuck.subscribe(self._on_stuck)
        self._threads = TaskThreads(
            options.concurrency, loop, grace=options.timeout_grace,
            interrupt=thread_interrupt(options.interrupt), stuck=self._stuck,
        )  # fmt: skip
        self._acks = AckBatcher(loop.call_soon)
        self._settler = Settler(
            name, self._acks, metrics, outcomes, registry.dead_letter_queue,
            options=self._options, redeclare=self._redeclare, park=self._park, sleep=sleep,
            rejecting={q.name for q in self._queues if "x-dead-letter-exchange" in q.arguments},
        )  # fmt: skip
        self._policies = {q.name: registry.queue_policy(q.name) for q in self._queues}
        #: the registry's middleware when it has task hooks; None costs one check a message
        self._middleware = registry.middleware if registry.middleware.tasks else None
        #: the consuming connection's state, for ``/metrics``
        self._state = registry.metrics.connection(f"mserve:{name}")
        self._jobs = Jobs(self._settler, self._policies)
        self._session: Session | None = None
        self._consumers = Consumers(
            self._queues, self._on_message, self._on_cancel, self._on_channel_closed,
            backoff_cap=options.backoff_cap, sleep=sleep,
        )  # fmt: skip
        self._lost: asyncio.Future[str] | None = None
        self._stopping = False
        self._stuck_stop = False  # stopping because too many tasks are stuck: exit STUCK

    # -- state ------------------------------------------------------------------------------

    def readiness(self) -> tuple[bool, str]:
        if self._stopping:
            return False, f"{self.name}: stopping"
        return self._consumers.readiness(self.name)

    @property
    def stopping(self) -> bool:
        return self._stopping

    def request_stop(self) -> None:
        """First call: graceful stop. Second call: stop now, requeueing what is in flight."""
        if self._stopping:
            self._settler.forced = True
            self._jobs.cancel_all()
        self._stopping = True
        if self._session is not None:
            self._session.interrupt()
        self._wake("stop requested")

    def _on_stuck(self) -> None:
        self._metrics.stuck(self._stuck.count)
        if self._stuck.full and not self._stuck_stop:  # even while stopping: exit STUCK
            log.error("%s: %s", self.name, self._stuck.health()[1].replace("\n", "; "))
            self._stuck_stop = True
            if not self._stopping:
                self.request_stop()

    # -- the reconnect loop -----------------------------------------------------------------

    async def run(self) -> ExitCode:
        waits, down_since = backoff(self._options.backoff_cap), None
        self._state.set("connecting")
        try:
            while not self._stopping:
                self._lost = asyncio.get_running_loop().create_future()
                try:
                    await self._start()
                except WorkerError as exc:
                    log.error("%s: %s", self.name, exc)
                    return exc.exit_code
                except Lost as exc:
                    if self._stopping:
                        break
                    self._state.set("reconnecting")
                    down_since = down_since or time.monotonic()
                    if time.monotonic() - down_since >= self._options.max_unreachable:
                        log.error("%s: giving up, broker unreachable: %s", self.name, exc)
                        return ExitCode.UNREACHABLE
                    delay = next(waits)
                    log.warning("%s: %s; retrying in %.1f s", self.name, exc, delay)
                    await self._teardown()
                    await self._sleep_unless_stopped(delay)
                    continue
                waits, down_since = backoff(self._options.backoff_cap), None
                self._state.set("connected")
                reason = await self._lost
                if not self._stopping:
                    self._state.set("reconnecting")
                    # Plain tasks still waiting for a thread could not be acked: the broker
                    # redelivers them, so running them now would only run them twice.
                    self._threads.cancel_waiting()
                    log.warning("%s: %s; reconnecting", self.name, reason)
                    await self._teardown()
            return await self._shutdown()
        finally:
            await self._teardown()
            self._state.set("closed")
            self._threads.shutdown()
            await asyncio.get_running_loop().run_in_executor(None, self._outcomes.close)

    async def _start(self) -> None:
        self._session = session = self._connect(self._wake)
        await session.connect()
        declaring = session.declare(self._plan, keep_free=len(self._queues))  # one channel each
        await self._consumers.open_while_declaring(session, declaring)
        consuming = ", ".join(sorted(self._consumers.consuming))
        log.info("%s: consuming %s from %s", self.name, consuming, session.masked_url)

    # -- session callbacks (loop thread) ----------------------------------------------------

    def _wake(self, reason: str) -> None:
        self._consumers.lost()
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(reason)

    def _on_cancel(self, queue: str) -> None:
        self._wake(f"the broker cancelled the consumer of {queue!r} (queue deleted?)")

    def _on_channel_closed(
        self, queue: str, channel: ConsumerChannel, reason: str, timed_out: bool
    ) -> None:
        """The broker closed one queue's channel: its unacked deliveries come back, and the
        other queues' stay where they are. Tasks still running finish; their acks are dropped
        (the redelivery is settled from the ledger); queued ones never start."""
        if self._stopping:
            return
        log.warning("%s: %s; reopening that channel only", self.name, reason)
        jobs = self._jobs.on(channel)
        self._threads.cancel_queued(jobs.values())
        if timed_out:  # the broker timed out the channel's oldest unacked delivery
            hit = culprit(jobs, self._acks.oldest(channel))
            if hit is not None:
                self._settler.timed_out(hit, self._policies[queue], reason)
        self._acks.forget(channel)
        if self._session is not None:
            self._consumers.reopen(self.name, queue, self._session, self._wake)

    def _on_message(self, channel: ConsumerChannel, delivery: Delivery) -> None:
        tag, queue = cast(int, delivery.delivery_tag), delivery.queue
        if self._stopping:  # sent before our basic.cancel arrived: give it back untouched
            with contextlib.suppress(Lost):  # the channel is gone: the broker requeues it
                channel.basic_nack(tag, requeue=True)
            return
        if (delivery.redelivered or self._settler.expecting_twins) and self._replay(
            channel, delivery
        ):
            return
        if delivery.redelivered and self._after_first_run(channel, delivery):
            return
        started = self._begin(delivery)  # first: a plain task's thread wakes up meanwhile
        job = Job(delivery, channel, tag)
        self._acks.delivered(channel, tag)
        self._metrics.started(queue)
        self._jobs.started(job, started)

    def _begin(self, delivery: Delivery) -> Outcome | Started | Exception:
        try:
            return start(
                delivery, self._policies[delivery.queue], self._threads,
                registry=self._registry.task_registry, settings=self._registry.settings,
                middleware=self._middleware,
            )  # fmt: skip
        except Exception as exc:  # a bug of ours: requeued, never raised into the session
            return exc

    # -- settling hooks: copies that cannot be published, redeliveries decided before -------

    def _replay(self, channel: ConsumerChannel, delivery: Delivery) -> bool:
        """Settle a redelivery whose outcome was decided here without running it; False if none."""
        outcome = self._settler.recorded(delivery)
        if outcome is None:
            return False
        self._jobs.settle_soon(self._taken(channel, delivery), outcome)
        return True

    def _taken(self, channel: ConsumerChannel, delivery: Delivery) -> Job:
        """A job for a delivery settled without starting its task now: unacked, in flight."""
        job = Job(delivery, channel, cast(int, delivery.delivery_tag))
        self._acks.delivered(channel, job.tag)
        self._metrics.started(delivery.queue)
        return job

    def _after_first_run(self, channel: ConsumerChannel, delivery: Delivery) -> bool:
        """A redelivery of a message whose first run still goes on (its channel or connection
        closed under it): settled from that run's outcome once it ends, never run beside it.
        False if no such run goes on."""
        original = self._jobs.original_of(delivery)
        if original is None:
            return False
        job = self._taken(channel, delivery)
        log.warning(
            "%s: message %s of %r (attempt %d) is back while its first run still goes on: "
            "settling it once that run ends", self.name, delivery.message_id, delivery.queue,
            delivery.attempt,
        )  # fmt: skip

        def settle() -> None:
            outcome = self._settler.recorded(job.delivery)
            if outcome is not None:
                self._jobs.started(job, outcome)
            elif self._stopping:  # that run was stopped before it decided: give it back
                self._settler.finish(job, None, "requeue", requeue=True, reason="stopping")
            else:  # that run hit an error of ours before it decided: run this one
                self._jobs.started(job, self._begin(delivery))

        self._jobs.follow(original, job, settle)
        return True

    def _park(self, job: Job, why: str) -> None:
        """Stop consuming the job's queue (its channel only): its message stays unacked."""
        self._consumers.park(job.delivery.queue, job.channel, why)

    async def _redeclare(self, queue: str) -> bool:
        return await redeclare(self.name, self._plan, self._session, queue)

    # -- stopping ---------------------------------------------------------------------------

    async def _shutdown(self) -> ExitCode:
        self._consumers.cancel_all()  # no new work while in-flight work finishes
        not_started = self._threads.cancel_waiting()
        await drain(self.name, self._jobs.waiting, self._settler, self._options.grace, not_started)
        if self._stuck_stop:  # the stuck tasks still run: only a new process is clean
            return ExitCode.STUCK
        return ExitCode.FORCED_STOP if self._settler.forced else ExitCode.OK

    async def _teardown(self) -> None:
        """Close the consuming connection (unacked messages go back to their queues)."""
        self._acks.flush()  # what finished is acked before the channels close
        session, self._session = self._session, None
        for channel in self._consumers.drop_all():
            self._acks.forget(channel)
        if session is not None:
            await session.close()

    async def _sleep_unless_stopped(self, delay: float) -> None:
        lost = asyncio.get_running_loop().create_future()
        self._lost = lost
        await asyncio.wait([lost], timeout=delay)
