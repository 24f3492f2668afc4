"""Fakes of what the worker talks to (session, channel, outcomes publisher) and a harness.

They implement ``mqwire.runtime.worker.ports`` and record every call in one ``calls`` list
shared by the channels and the publisher, so a test can assert the order (copy published,
then the input acked). No pika: the worker under test never sees it either. ``running``
starts a real ``Worker`` on them, consuming queue ``q`` with task ``t``.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import Future
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from mqwire.runtime.dispatch import Delivery, TaskEntry
from mqwire.runtime.errors import ExitCode, Lost, PublishError
from mqwire.runtime.wire import WireMessage
from mqwire.runtime.wiring.registry import Registry
from mqwire.runtime.worker.metrics import Metrics
from mqwire.runtime.worker.policy import WorkerOptions
from mqwire.runtime.worker.ports import OnClosed, OnMessage
from mqwire.runtime.worker.stuck import StuckTasks
from mqwire.runtime.worker.worker import Worker
from mqwire.topology.declarations import (
    Declarations,
    QueueDeclaration,
    failure_queue_declarations,
    queue_declaration,
)
from mqwire.topology.model import Queue, Retry

#: A JSON body, and the one queue the worker under test consumes (one retry after 5 s).
BODY = b'{"id": 1}'
QUEUE = Queue("q", retry=Retry((5.0,)))

Call = tuple[Any, ...]


class FakeChannel:
    """A consuming channel: records acks and nacks, refuses them once closed, as pika does."""

    def __init__(self, queue: str, calls: list[Call]) -> None:
        self.queue, self.calls = queue, calls
        self.is_open = True
        self.cancelled = False
        self._tags = itertools.count(1)

    def next_tag(self) -> int:
        return next(self._tags)

    def basic_ack(self, delivery_tag: int, multiple: bool = False) -> None:
        if not self.is_open:
            raise Lost("acking: channel closed")
        self.calls.append(("ack", self.queue, delivery_tag, multiple))

    def basic_nack(self, delivery_tag: int, requeue: bool = True) -> None:
        if not self.is_open:
            raise Lost("requeueing: channel closed")
        self.calls.append(("nack", self.queue, delivery_tag, requeue))

    def cancel(self) -> None:
        self.cancelled = True


class FakeSession:
    """One connection of a ``FakeBroker``; closing it closes its channels."""

    masked_url = "amqp://fake/"

    def __init__(self, broker: FakeBroker, on_lost: Callable[[str], None]) -> None:
        self.broker, self.on_lost = broker, on_lost
        self.consumers: dict[str, tuple[FakeChannel, OnMessage]] = {}
        self.on_closed: dict[str, OnClosed] = {}
        self.interrupted = self.closed = False

    async def connect(self) -> None:
        if self.broker.connect_errors:
            raise self.broker.connect_errors.pop(0)

    async def declare(self, plan: Declarations, keep_free: int = 0) -> None:
        await asyncio.sleep(0)  # the broker answers later: the consuming channels set up
        if self.broker.plan_errors:
            raise self.broker.plan_errors.pop(0)
        self.broker.declared.append(plan)

    async def declare_queue(self, queue: QueueDeclaration) -> None:
        self.broker.calls.append(("declare", queue.name))
        if self.broker.declare_error is not None:
            raise self.broker.declare_error

    async def consume(
        self,
        queue: str,
        prefetch: int,
        on_message: OnMessage,
        on_cancel: Callable[[], None],
        on_closed: OnClosed,
        ready: Awaitable[None] | None = None,
    ) -> FakeChannel:
        if self.broker.consume_errors:  # setting the channel up failed
            raise self.broker.consume_errors.pop(0)
        if ready is not None:
            await ready
        channel = FakeChannel(queue, self.broker.calls)
        self.broker.consumed.append(queue)
        self.consumers[queue] = (channel, on_message)
        self.on_closed[queue] = on_closed
        self.broker.consuming.set()
        return channel

    def interrupt(self) -> None:
        self.interrupted = True

    async def close(self) -> None:
        self.closed = True
        for channel, _ in self.consumers.values():
            channel.is_open = False


class FakeBroker:
    """Hands out ``FakeSession``s (the worker's ``connect``) and delivers messages to them."""

    def __init__(self) -> None:
        self.sessions: list[FakeSession] = []
        self.calls: list[Call] = []
        self.declared: list[Declarations] = []
        self.connect_errors: list[Exception] = []
        self.declare_error: Exception | None = None  # raised by every declare_queue
        self.plan_errors: list[Exception] = []  # raised by the next declares, one each
        self.consume_errors: list[Exception] = []  # raised by the next consumes, one each
        self.consumed: list[str] = []  # the queue of every channel opened to consume, in order
        self.consuming = asyncio.Event()  # set by every consume; clear it to wait for the next

    def connect(self, on_lost: Callable[[str], None]) -> FakeSession:
        session = FakeSession(self, on_lost)
        self.sessions.append(session)
        return session

    def channel(self, queue: str = "q") -> FakeChannel:
        """The consuming channel of ``queue`` on the newest session."""
        return self.sessions[-1].consumers[queue][0]

    def deliver(
        self,
        queue: str,
        body: bytes,
        properties: dict[str, Any] | None = None,
        *,
        redelivered: bool = False,
    ) -> int:
        """Deliver one message on the newest session, as the session's consumer callback does."""
        channel, on_message = self.sessions[-1].consumers[queue]
        tag = channel.next_tag()
        props = {"content_type": "application/json", **(properties or {})}
        on_message(channel, Delivery(queue, body, props, queue, "", redelivered, tag))
        return tag

    def close_channel(self, queue: str = "q", *, consumer_timeout: bool = True) -> None:
        """The broker closes one queue's channel (by default: its consumer timeout, 406)."""
        session = self.sessions[-1]
        channel, _ = session.consumers[queue]
        channel.is_open = False
        reason = "delivery acknowledgement on channel 1 timed out" if consumer_timeout else "406"
        session.on_closed[queue](f"channel of {queue!r} closed: {reason}", consumer_timeout)

    def lose(self, reason: str = "connection closed: StreamLostError") -> None:
        """The newest connection drops: its channels close, the worker hears of it."""
        session = self.sessions[-1]
        for channel, _ in session.consumers.values():
            channel.is_open = False
        session.on_lost(reason)


class FakeSubmitted:
    """A copy handed to ``FakeOutcomes``: its future, as the transport's entries have."""

    def __init__(self, future: Future[PublishError | None]) -> None:
        self.future = future


class FakeOutcomes:
    """The confirmed publisher of retry and dead-letter copies; ``error`` refuses every copy,
    and ``errors`` (consumed first, one per copy) may say otherwise for the next ones.

    With ``hold`` set, copies stay on their way (a blocked broker): their futures are in
    ``on_way``, for the test to ``written()`` and ``settle()``, or to see them withdrawn.
    """

    def __init__(self, calls: list[Call], error: PublishError | None = None) -> None:
        self.calls, self.error = calls, error
        self.errors: list[PublishError | None] = []
        self.raises: Exception | None = None  # raised by every submit, as an encoding error is
        self.sent: list[WireMessage] = []
        self.blocked_timeouts: list[float | None] = []
        self.hold = False
        self.on_way: list[Future[PublishError | None]] = []
        self.submitted = threading.Event()  # set by every submit (clear it to wait for the next)
        self.closed = False

    def submit(
        self, messages: Sequence[WireMessage], *, blocked_timeout: float | None = None
    ) -> list[FakeSubmitted]:
        submitted = []
        for message in messages:  # on an executor thread, as the real one may block
            self.sent.append(message)
            self.blocked_timeouts.append(blocked_timeout)
            self.calls.append(("send", message.routing_key))
            if self.raises is not None:
                raise self.raises
            future: Future[PublishError | None] = Future()
            if self.hold:
                self.on_way.append(future)
            else:
                future.set_result(self.errors.pop(0) if self.errors else self.error)
            submitted.append(FakeSubmitted(future))
        self.submitted.set()
        return submitted

    def written(self, index: int = -1) -> None:
        """The held copy went out on the wire: from now on it cannot be withdrawn."""
        assert self.on_way[index].set_running_or_notify_cancel()

    def settle(self, outcome: PublishError | None = None, index: int = -1) -> None:
        """The broker confirmed (``None``) or refused the held copy."""
        self.on_way[index].set_result(outcome)

    async def until_submitted(self, count: int) -> None:
        """Wait until ``count`` copies were handed over in all."""
        loop = asyncio.get_running_loop()
        while len(self.sent) < count:
            self.submitted.clear()
            if len(self.sent) < count:
                await loop.run_in_executor(None, self.submitted.wait, 10)

    def close(self) -> None:
        self.closed = True


class RecordingMetrics(Metrics):
    """Metrics that also keep each message's result, and let a test wait for them."""

    def __init__(self) -> None:
        super().__init__()
        self.results: list[tuple[str, str | None, str]] = []
        self._changed = asyncio.Event()

    def finished(self, queue: str, task: str | None, outcome: str, duration: float) -> None:
        super().finished(queue, task, outcome, duration)
        self.results.append((queue, task, outcome))
        self._changed.set()

    async def until(self, count: int) -> list[tuple[str, str | None, str]]:
        """The results once ``count`` messages have left the worker."""
        while len(self.results) < count:
            self._changed.clear()
            await self._changed.wait()
        return self.results


class BusyThread:
    """A plain task that holds the worker's one thread until ``release`` is set."""

    def __init__(self) -> None:
        self.began, self.release = threading.Event(), threading.Event()
        self.ran: list[int] = []  # the delivery tags it ran for

    def __call__(self, context: Any, request: Any) -> None:
        self.ran.append(request.delivery_tag)
        self.began.set()
        self.release.wait(10)

    async def occupy(self, broker: FakeBroker) -> int:
        """Deliver a message and return its tag once its task holds the thread."""
        tag = broker.deliver("q", BODY)
        await asyncio.get_running_loop().run_in_executor(None, self.began.wait, 10)
        return tag


# -- the harness ---------------------------------------------------------------------------


@dataclass
class Running:
    """A worker consuming queue ``q`` from a fake broker, and what it talks to."""

    worker: Worker
    broker: FakeBroker
    outcomes: FakeOutcomes
    metrics: RecordingMetrics
    run: asyncio.Task[ExitCode]
    waits: list[float]  # the waits between attempts at a copy, in order (never slept)

    async def stop(self) -> ExitCode:
        self.worker.request_stop()
        return await self.run


@asynccontextmanager
async def running(
    function: Callable[..., Any],
    *,
    timeout: float | None = None,
    root_factory: Callable[..., Any] | None = None,
    publish_error: PublishError | None = None,
    options: WorkerOptions | None = None,
    connect_errors: Sequence[Exception] = (),
    plan_errors: Sequence[Exception] = (),
    consume_errors: Sequence[Exception] = (),
    queue: Queue = QUEUE,
    others: Sequence[str] = (),
    on_wait: Callable[[], None] = lambda: None,
    stuck: StuckTasks | None = None,
    middleware: Sequence[object] = (),
) -> AsyncIterator[Running]:
    """A worker consuming ``q`` (or ended already: ``connect_errors`` can make it give up),
    and each of ``others`` with a task of the same function; waits are recorded, not slept,
    and ``on_wait()`` is called in each; ``middleware`` is the registry's."""
    queues = [queue, *(Queue(name) for name in others)]
    names = ["t", *(f"t-{name}" for name in others)]
    tasks = {
        name: TaskEntry(name, function, q.name, root_factory=root_factory, timeout=timeout)
        for name, q in zip(names, queues, strict=True)
    }
    registry = Registry(
        settings={}, queues={q.name: q for q in queues}, tasks=tasks, validators={},
        continue_on_exception={}, middleware=middleware,
    )  # fmt: skip
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        on_wait()

    broker, metrics = FakeBroker(), RecordingMetrics()
    broker.connect_errors.extend(connect_errors)
    broker.plan_errors.extend(plan_errors)
    broker.consume_errors.extend(consume_errors)
    outcomes = FakeOutcomes(broker.calls, publish_error)
    plan = Declarations(queues=(queue_declaration(queue), *failure_queue_declarations(queue)))
    worker = Worker(
        "w", queues, plan, registry, metrics, connect=broker.connect, outcomes=outcomes,
        options=options, sleep=sleep, stuck=stuck,
    )  # fmt: skip
    run = asyncio.ensure_future(worker.run())
    consuming = asyncio.ensure_future(broker.consuming.wait())
    await asyncio.wait([consuming, run], return_when=asyncio.FIRST_COMPLETED)
    consuming.cancel()
    harness = Running(worker, broker, outcomes, metrics, run, waits)
    try:
        yield harness
    finally:
        if not run.done():
            worker.request_stop()
            worker.request_stop()
            await run


def scenario(test: Callable[[], Any]) -> Any:
    """Run an async test body on a fresh loop (no pytest-asyncio here)."""
    return asyncio.run(test())
