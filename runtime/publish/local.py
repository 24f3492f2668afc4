"""The local transport: tasks run in-process, routed and failing exactly as over RabbitMQ.

For development and tests (Dramatiq's StubBroker, Starlette's TestClient): messages go through
the same encoding, routing matcher, schema checks and dispatch as in production, with retries
run at once instead of after their delays, a task's ``timeout:`` enforced as ``mserve`` does
(``limited``: retried, then dead-lettered with ``TaskTimeout``), and dead letters kept for
inspection. It refuses what the broker refuses (an unroutable mandatory publish, an exchange
the topology does not declare) and keeps what reaches a queue no task consumes. Delayed
publishes wait for a clock that only ``LocalBroker.advance()`` moves: tests never sleep.

This module holds the broker side (queues, delivery, retries, dead letters); the publisher
that routes into it is :mod:`.local_publisher`.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field

from ..dispatch import (
    DEFAULT_TIMEOUT_GRACE,
    Action,
    Delivery,
    Outcome,
    QueuePolicy,
    dead_letter_properties,
    retry_properties,
)
from ..interfaces import TaskRegistry
from ..middleware import Chain
from ..wire import WireMessage
from .delay import DelayClock
from .inline import dispatch

_log = logging.getLogger(__name__)

#: The broker whose task runs in this context (copied into a limited task's thread).
_DELIVERING: ContextVar[LocalBroker | None] = ContextVar("mqwire_local_delivering", default=None)


@dataclass(frozen=True)
class DeadLetter:
    """A message that failed for good, with the headers a worker would have put on it."""

    queue: str
    dead_letter_queue: str
    delivery: Delivery
    outcome: Outcome

    @property
    def reason(self) -> str:
        return self.outcome.reason


@dataclass
class LocalBroker:
    """One in-process "broker" shared by a registry's local publishers, in FIFO order.

    Publishes made while a task runs are queued and run after it, as on a broker, never
    recursively. ``dead_letters`` and ``undelivered`` stay for tests to inspect: a message for
    a queue no worker consumes (no ``consumer:``, or one with no task at all) is held in
    ``undelivered``, as the broker holds it; one for a queue a worker consumes but no task
    handles is dead-lettered, as ``mserve`` does. Delayed messages wait in ``delayed`` until
    ``advance()`` moves ``now`` (seconds since the broker was made, on a clock of its own)
    past their time.
    """

    policy: Callable[[str], QueuePolicy]
    dead_letter_queue: Callable[[str], str]
    continue_on_exception: Callable[[str], bool]
    #: whether a worker consumes a queue (``Registry.served``): one with no task is then
    #: dead-lettered, as ``mserve`` does, instead of held in ``undelivered``
    served: Callable[[str], bool] = lambda queue: False
    #: the queue a retry queue hands its messages back to (``Registry.failure_queues``):
    #: a message published to one runs on that queue at once, as retries do here
    hands_back: Callable[[str], str | None] = lambda queue: None
    registry: TaskRegistry | None = None
    settings: Mapping[str, str] = field(default_factory=dict)
    clock: Callable[[], float] = time.time
    #: the registry's middleware; their task hooks run around each task
    middleware: Chain | None = None
    dead_letters: list[DeadLetter] = field(default_factory=list)
    undelivered: dict[str, list[Delivery]] = field(default_factory=dict)
    processed: list[tuple[str, str]] = field(default_factory=list)

    #: seconds a task past its ``timeout:`` gets to end once interrupted (as ``mserve``'s)
    timeout_grace: float = DEFAULT_TIMEOUT_GRACE

    def __post_init__(self) -> None:
        self._pending: collections.deque[Delivery] = collections.deque()
        self._lock = threading.RLock()  # held by the thread delivering, for the whole run
        self._queue_lock = threading.Lock()  # guards ``_pending`` alone
        self._draining = False
        self._clock = DelayClock()  # its own lock: a task's thread may publish with a delay

    @property
    def now(self) -> float:
        """The delay clock: seconds ``advance()`` moved it on so far."""
        return self._clock.now

    @property
    def delayed(self) -> list[tuple[float, WireMessage]]:
        """(due time, message as published) of each message still waiting, soonest first."""
        return self._clock.waiting

    def hold(self, seconds: float, message: WireMessage, route: Callable[[], object]) -> None:
        """Keep ``message`` until the clock reaches ``now + seconds``; then call ``route``."""
        self._clock.hold(seconds, message, route)

    def advance(self, seconds: float) -> None:
        """Move the clock on by ``seconds`` and deliver, in due order, what became due, and
        what their tasks publish with a delay that ends within it too. Never sleeps.

        Raises:
            ValueError: a negative ``seconds``.
            Exception: as ``run()``, once every due message was delivered.
        """
        if seconds < 0:
            raise ValueError(f"advance() takes 0 or more seconds, not {seconds!r}")
        errors: list[BaseException] = []
        with self._lock:
            for route in self._clock.due(seconds):
                route()
                try:
                    self.run()
                except Exception as exc:
                    errors.append(exc)
        if errors:
            for other in errors[1:]:
                errors[0].add_note(f"also failed: {type(other).__name__}: {other}")
            raise errors[0]

    def enqueue(self, delivery: Delivery) -> None:
        """Queue a delivery; from a task of this broker (a task with a ``timeout:`` runs in a
        thread of its own) without waiting for the run that is delivering it."""
        if _DELIVERING.get() is self:
            self._requeue(delivery)
            return
        with self._lock:
            self._requeue(delivery)

    def run(self) -> None:
        """Deliver everything pending, including what tasks publish meanwhile.

        Raises:
            Exception: the first task failure that was dead-lettered, unless the queue's
                publisher_consumer has ``continue_on_exception``; later ones are attached
                as notes. Everything pending is delivered before it is raised.
        """
        if _DELIVERING.get() is self:
            return  # called from inside a task: the outer run delivers it next
        with self._lock:
            if self._draining:
                return  # called from inside a task: the outer run delivers it next
            self._draining = True
            errors: list[BaseException] = []
            token = _DELIVERING.set(self)
            try:
                while (delivery := self._next()) is not None:
                    error = self._deliver(delivery)
                    if error is not None:
                        errors.append(error)
            finally:
                _DELIVERING.reset(token)
                self._draining = False
        if errors:
            first = errors[0]
            for other in errors[1:]:
                first.add_note(f"also failed: {type(other).__name__}: {other}")
            raise first

    def _next(self) -> Delivery | None:
        with self._queue_lock:
            return self._pending.popleft() if self._pending else None

    def _requeue(self, delivery: Delivery) -> None:
        with self._queue_lock:
            self._pending.append(delivery)

    def _deliver(self, delivery: Delivery) -> BaseException | None:
        back = self.hands_back(delivery.queue)
        if back is not None:  # a retry queue: the broker moves it to ``back`` after its delay
            self._requeue(delivery._replace(queue=back))
            return None
        policy = self.policy(delivery.queue)
        if policy.task is None and not self.served(delivery.queue):
            self.undelivered.setdefault(delivery.queue, []).append(delivery)
            return None
        outcome = dispatch(
            delivery, policy, registry=self.registry, settings=self.settings,
            middleware=self.middleware, timeout_grace=self.timeout_grace,
        )  # fmt: skip
        if outcome.action is Action.ACK:
            self.processed.append((outcome.task or "", delivery.message_id))
            return None
        if outcome.action is Action.RETRY:
            props = retry_properties(delivery)
            self._requeue(delivery._replace(properties=props, redelivered=False))
            return None
        props = dead_letter_properties(delivery, outcome, now=self.clock())
        self.dead_letters.append(
            DeadLetter(
                delivery.queue,
                self.dead_letter_queue(delivery.queue),
                delivery._replace(properties=props),
                outcome,
            )
        )
        if outcome.error is None:
            return None
        if self.continue_on_exception(delivery.queue):
            _log.error(
                "task %s failed on queue %s, dead-lettered (continue_on_exception): %s",
                outcome.task,
                delivery.queue,
                outcome.reason,
                exc_info=outcome.error,
            )
            return None
        return outcome.error
