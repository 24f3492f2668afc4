"""The worker's AMQP edge: consume a publisher_consumer's queues on the running tornado loop.

One ``Worker`` per publisher_consumer. It owns one consuming connection (``AmqpSession``; one
channel per queue, each with its own ``basic_qos``), touched only from the loop thread: every
ack and nack happens there. Retries and dead letters are published through an ``AmqpTransport``
(its own connection, confirmed, ``mandatory``), and the input is acked only after that confirm.
Nothing here recurses: ``run`` is a flat reconnect loop, and a delivery tag of a dead channel is
dropped (the broker redelivers it), never acked on a new one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from functools import partial
from typing import Any

import pika  # type: ignore[import-untyped]

from mqwire.topology.credentials import mask_resolved_url
from mqwire.topology.declarations import Declarations
from mqwire.topology.model import Queue

from ..amqp.session import AmqpSession, Lost
from ..amqp.transport import AmqpTransport
from ..dispatch import Action, Delivery, Outcome
from ..errors import ExitCode, WorkerError, describe_error
from ..wire import properties_dict
from ..wiring.registry import Registry
from .acks import AckBatcher
from .execution import Started, failure_message, finish, start, start_eagerly
from .metrics import Metrics
from .policy import WorkerOptions, backoff
from .task_threads import TaskThreads

log = logging.getLogger("mqwire.worker")


class _Job:
    """One delivery being worked on, and the channel it must be settled on."""

    __slots__ = ("channel", "delivery", "started", "tag")

    def __init__(self, delivery: Delivery, channel: Any, tag: int) -> None:
        self.delivery, self.channel, self.tag = delivery, channel, tag
        self.started = time.monotonic()


class Worker:
    """Consumes one publisher_consumer's queues until stopped; ``run()`` returns the exit code."""

    def __init__(
        self,
        name: str,
        url: str,
        queues: Sequence[Queue],
        plan: Declarations,
        registry: Registry,
        metrics: Metrics,
        options: WorkerOptions | None = None,
        heartbeat: int | None = None,
    ) -> None:
        self.name, self.masked_url = name, mask_resolved_url(url)
        self._params = pika.URLParameters(url)
        self._params.client_properties = {"connection_name": f"mserve:{name}"}
        if heartbeat is not None:
            self._params.heartbeat = heartbeat
        self._queues, self._plan, self._registry = list(queues), plan, registry
        self._metrics, self._options = metrics, options or WorkerOptions()
        loop = asyncio.get_running_loop()  # built on the loop it serves
        self._threads = TaskThreads(self._options.concurrency, loop)
        self._acks = AckBatcher(loop.call_soon)
        self._policies = {q.name: registry.queue_policy(q.name) for q in self._queues}
        self._outcomes = AmqpTransport(url, name=f"mserve:{name}:outcomes", heartbeat=heartbeat)
        self._jobs: dict[_Job, asyncio.Future[Any]] = {}  # its running task, or the one settling it
        self._session: AmqpSession | None = None
        self._channels: list[Any] = []  # the consuming channels of the current connection
        self._consuming: set[str] = set()
        self._lost: asyncio.Future[str] | None = None
        self._stopping = self._forced = False

    # -- state ------------------------------------------------------------------------------

    def readiness(self) -> tuple[bool, str]:
        if self._stopping:
            return False, f"{self.name}: stopping"
        missing = sorted({q.name for q in self._queues} - self._consuming)
        if missing:
            return False, f"{self.name}: not consuming {', '.join(missing)}"
        return True, f"{self.name}: consuming {len(self._queues)} queue(s)"

    @property
    def stopping(self) -> bool:
        return self._stopping

    def request_stop(self) -> None:
        """First call: graceful stop. Second call: stop now, requeueing what is in flight."""
        if self._stopping:
            self._forced = True
            for task in self._jobs.values():
                task.cancel()
        self._stopping = True
        if self._session is not None:
            self._session.quiet = True
            self._session.fail_pending(ConnectionAbortedError("stop requested"))
        self._wake("stop requested")

    # -- the reconnect loop -----------------------------------------------------------------

    async def run(self) -> ExitCode:
        waits, down_since = backoff(self._options.backoff_cap), None
        try:
            while not self._stopping:
                self._lost = asyncio.get_running_loop().create_future()
                try:
                    await self._start()
                except WorkerError as exc:
                    log.error("%s: %s", self.name, exc)
                    return exc.exit_code
                except (Lost, pika.exceptions.AMQPError, OSError) as exc:
                    if self._stopping:
                        break
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
                reason = await self._lost
                if not self._stopping:
                    # Plain tasks still waiting for a thread could not be acked: the broker
                    # redelivers them, so running them now would only run them twice.
                    self._threads.cancel_waiting()
                    log.warning("%s: %s; reconnecting", self.name, reason)
                    await self._teardown()
            return await self._shutdown()
        finally:
            await self._teardown()
            self._threads.shutdown()
            await asyncio.get_running_loop().run_in_executor(None, self._outcomes.close)

    async def _start(self) -> None:
        self._session = session = AmqpSession(self._params, self.masked_url, self._wake)
        await session.connect()
        channel = await session.channel()
        await session.declare(self._plan, channel)
        channel.close()
        for queue in self._queues:
            channel = await session.channel()
            channel.add_on_cancel_callback(partial(self._on_cancel, queue.name))
            await session.rpc("setting qos", channel.basic_qos, prefetch_count=queue.prefetch)
            on_message = partial(self._on_message, queue.name)
            await session.rpc(
                f"consuming {queue.name!r}", channel.basic_consume, queue=queue.name,
                on_message_callback=on_message,
            )  # fmt: skip
            self._channels.append(channel)
            self._consuming.add(queue.name)
        log.info(
            "%s: consuming %s from %s",
            self.name,
            ", ".join(sorted(self._consuming)),
            self.masked_url,
        )

    # -- pika callbacks (loop thread) -------------------------------------------------------

    def _wake(self, reason: str) -> None:
        self._consuming.clear()
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(reason)

    def _on_cancel(self, queue: str, frame: Any) -> None:
        self._wake(f"the broker cancelled the consumer of {queue!r} (queue deleted?)")

    def _on_message(self, queue: str, channel: Any, method: Any, props: Any, body: bytes) -> None:
        tag = method.delivery_tag
        if self._stopping:  # sent before our basic.cancel arrived: give it back untouched
            channel.basic_nack(tag, requeue=True)
            return
        delivery = Delivery(
            queue, body, properties_dict(props), method.routing_key, method.exchange,
            method.redelivered, tag,
        )  # fmt: skip
        started: Outcome | Started | Exception
        try:  # first: a plain task's thread wakes up while the bookkeeping below runs
            started = start(
                delivery, self._policies[queue], self._threads,
                registry=self._registry, settings=self._registry.settings,
            )  # fmt: skip
        except Exception as exc:  # a bug of ours: requeue below, never raise into pika
            started = exc
        job = _Job(delivery, channel, tag)
        self._acks.delivered(channel, tag)
        self._metrics.started(queue)
        if isinstance(started, Exception):
            log.error("%s: starting a message of %r failed: %r", self.name, queue, started)
            self._finish(job, None, "requeue", requeue=True, reason=describe_error(started))
            return
        if isinstance(started, Started) and started.task.timeout is None:
            # Nothing to do on the loop until the task is done: settle then, so the loop goes
            # idle (and lets a thread have the GIL) without building another task first.
            running = started.running
            if running.done():  # an async def that never waited: settle it now, not next turn
                self._on_done(job, started, running)
                return
            self._jobs[job] = running
            running.add_done_callback(partial(self._on_done, job, started))
        else:
            self._settle_soon(job, started)

    def _on_done(self, job: _Job, started: Started, running: asyncio.Future[Any]) -> None:
        """A task without a timeout ended: ack a success at once, judge anything else in a task.

        Most messages succeed, and acking one is synchronous: no task and coroutines to build.
        """
        if running.cancelled() or running.exception() is not None:
            self._settle_soon(job, started)
            return
        self._jobs.pop(job, None)
        try:
            self._finish(job, started.task.name, "ack")
        except Exception as exc:  # a bug of ours: never lose the message, never kill the loop
            self._requeue_after_bug(job, exc)

    def _settle_soon(self, job: _Job, started: Outcome | Started) -> None:
        task = start_eagerly(self._process(job, started))
        if not task.done():  # an eagerly started task may have finished already
            self._jobs[job] = task

    # -- processing -------------------------------------------------------------------------

    async def _process(self, job: _Job, started: Outcome | Started) -> None:
        queue = job.delivery.queue
        try:
            outcome = await finish(job.delivery, self._policies[queue], started)
            await self._settle(job, outcome)
        except asyncio.CancelledError:
            self._finish(job, None, "requeue", requeue=True, reason="stopped before it finished")
        except Exception as exc:  # a bug of ours: never lose the message, never kill the loop
            self._requeue_after_bug(job, exc)
        finally:
            self._jobs.pop(job, None)

    def _requeue_after_bug(self, job: _Job, exc: Exception) -> None:
        log.exception("%s: settling a message of %r failed", self.name, job.delivery.queue)
        self._finish(job, None, "requeue", requeue=True, reason=describe_error(exc))

    async def _settle(self, job: _Job, outcome: Outcome) -> None:
        d = job.delivery
        if outcome.action is not Action.ACK:
            dead_letter_queue = self._registry.dead_letter_queue(d.queue)
            message = failure_message(d, outcome, dead_letter_queue, now=time.time())
            loop = asyncio.get_running_loop()
            (error,) = await loop.run_in_executor(None, self._outcomes.send, [message])
            if error is not None:
                reason = f"could not move it to {message.routing_key!r}: {error}"
                self._finish(job, outcome.task, "requeue", requeue=True, reason=reason)
                return
        self._finish(job, outcome.task, outcome.action.value, reason=outcome.reason)

    def _finish(
        self, job: _Job, task: str | None, result: str, *, requeue: bool = False, reason: str = ""
    ) -> None:
        """Ack (or nack with requeue) on the delivery's own channel, then count and log it."""
        d, channel = job.delivery, job.channel
        if self._forced:
            # Left outstanding on purpose: no multiple ack may cover it before the close.
            result = "requeue"  # the closing connection gives it back
        elif not channel.is_open:
            result, reason = "dropped", "its channel closed; the broker redelivers it"
        elif requeue:
            self._acks.settled(channel, job.tag)
            try:
                channel.basic_nack(job.tag, requeue=True)
            except pika.exceptions.AMQPError as exc:
                result, reason = "dropped", f"could not settle it: {describe_error(exc)}"
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

    # -- stopping ---------------------------------------------------------------------------

    async def _shutdown(self) -> ExitCode:
        self._cancel_consumers()
        cancelled = self._threads.cancel_waiting()
        if self._jobs:
            log.info(
                "%s: stopping; %d task(s) in flight, %d not started (requeued), %.0f s grace",
                self.name, len(self._jobs) - cancelled, cancelled, self._options.grace,
            )  # fmt: skip
            # A job waits on its running task, then (a failure) on the task that settles it.
            deadline = time.monotonic() + self._options.grace
            while self._jobs and (left := deadline - time.monotonic()) > 0:
                await asyncio.wait(list(self._jobs.values()), timeout=left)
            late = list(self._jobs.values())
            if late:
                log.error("%s: grace period over; requeueing %d message(s)", self.name, len(late))
                self._forced = True
                for task in late:
                    task.cancel()
                await asyncio.wait(late)
        return ExitCode.FORCED_STOP if self._forced else ExitCode.OK

    def _cancel_consumers(self) -> None:
        """Stop deliveries so in-flight work can finish without new work arriving."""
        for channel in self._channels:
            if channel.is_open:
                for tag in list(channel.consumer_tags):
                    channel.basic_cancel(tag)

    async def _teardown(self) -> None:
        """Close the consuming connection (unacked messages go back to their queues)."""
        self._acks.flush()  # what finished is acked before the channels close
        session, self._session = self._session, None
        self._consuming.clear()
        for channel in self._channels:
            self._acks.forget(channel)
        self._channels.clear()
        if session is not None:
            session.quiet = True
            await session.close()

    async def _sleep_unless_stopped(self, delay: float) -> None:
        lost = asyncio.get_running_loop().create_future()
        self._lost = lost
        await asyncio.wait([lost], timeout=delay)
