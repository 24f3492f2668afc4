"""The registry: publishers and consumers by name, tasks by name, the settings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from mqwire.topology.model import Queue, Schedule, default_dead_letter_queue

from ..client_metrics import ClientMetrics
from ..dispatch import BodyValidator, QueuePolicy, TaskEntry
from ..errors import ConfigurationError
from ..interfaces import TaskRegistry
from ..middleware import Chain
from ..publish.base import Publisher

if TYPE_CHECKING:  # imported when first used: a worker on RabbitMQ never needs it
    from ..publish.local import LocalBroker


def _unknown(kind: str, name: str, known: Any) -> ConfigurationError:
    names = ", ".join(repr(k) for k in sorted(known)) or "none"
    return ConfigurationError(f"unknown {kind} {name!r}; known: {names}")


class Registry:
    """What an application holds after ``load()`` or ``Configurator.make_registry()``.

    ``middleware`` runs around every task and publish of its publishers and workers;
    ``metrics`` holds its publishers' outcomes and its connections' states. ``task_registry``
    is what tasks see as ``request.registry``: this registry unless given (``mqwire.pyramid``
    gives the application's own).
    """

    def __init__(
        self,
        *,
        settings: Mapping[str, str],
        queues: Mapping[str, Queue],
        tasks: Mapping[str, TaskEntry],
        validators: Mapping[str, BodyValidator],
        continue_on_exception: Mapping[str, bool],
        schedules: Mapping[str, Schedule] | None = None,
        middleware: Sequence[object] = (),
        task_registry: TaskRegistry | None = None,
        delays: bool = False,
    ) -> None:
        self.settings = dict(settings)
        self.task_registry: TaskRegistry = self if task_registry is None else task_registry
        self.queues = dict(queues)
        self.tasks = dict(tasks)
        self.validators = dict(validators)
        self._continue = dict(continue_on_exception)
        #: The topology's ``schedules:`` (what ``mserve --schedules`` fires), by name.
        self.schedules = dict(schedules or {})
        self.components: dict[str, list[Any]] = {}
        self.middleware = Chain(middleware)
        self.metrics = ClientMetrics()
        #: The topology declares the delay ladder (``delays: true``): declared with every
        #: plan, and what ``publish(delay=...)`` needs.
        self.delays = delays

    def add_component(self, name: str, component: Any) -> None:
        self.components.setdefault(name, []).append(component)

    def publisher(self, name: str) -> Publisher:
        """The publisher of publisher_consumer ``name``.

        Raises:
            ConfigurationError: listing the known names (the old lookup returned None).
        """
        for component in self.components.get(name, ()):
            if hasattr(component, "publish"):
                return component  # type: ignore[no-any-return]
        raise _unknown(
            "publisher",
            name,
            [n for n, cs in self.components.items() if any(hasattr(c, "publish") for c in cs)],
        )

    def consumer(self, name: str) -> Any:
        """The consuming side of publisher_consumer ``name`` (a ConsumerSpec, or a local one)."""
        components = self.components.get(name)
        if not components:
            raise _unknown("publisher_consumer", name, self.components)
        return components[0]

    def task(self, name: str) -> TaskEntry:
        if name not in self.tasks:
            raise _unknown("task", name, self.tasks)
        return self.tasks[name]

    def task_for_queue(self, queue: str) -> TaskEntry | None:
        return next((t for t in self.tasks.values() if t.queue == queue), None)

    def queue_policy(self, queue: str) -> QueuePolicy:
        """What running a message of ``queue`` needs: task, retry delays, schema."""
        model = self.queues.get(queue) or Queue(queue)
        delays = model.retry.delays if model.retry else ()
        return QueuePolicy(
            queue,
            self.task_for_queue(queue),
            delays,
            self.validators.get(queue),
            model.body_limit,
            frozenset(model.accept),
        )

    def dead_letter_queue(self, queue: str) -> str:
        model = self.queues.get(queue)
        return model.dead_letter_queue if model else default_dead_letter_queue(queue)

    @cached_property
    def failure_queues(self) -> dict[str, str | None]:
        """The retry and dead-letter queues declared with the topology's queues (a publish
        may name them through the default exchange): a retry queue -> the queue it hands its
        messages back to after its delay; a dead-letter queue -> None."""
        found: dict[str, str | None] = {}
        for queue in self.queues.values():
            found.update((name, queue.name) for _, name in queue.retry_queues)
            found.setdefault(queue.dead_letter_queue, None)
        return found

    @cached_property
    def _consumers_with_tasks(self) -> frozenset[str]:
        queues = (self.queues.get(task.queue) for task in self.tasks.values())
        return frozenset(q.consumer for q in queues if q is not None and q.consumer)

    def served(self, queue: str) -> bool:
        """Whether ``mserve`` consumes ``queue`` when it serves every publisher_consumer it
        would by default: the queue's ``consumer:`` has a task on some queue. A message of a
        served queue without a task is dead-lettered there; any other queue holds it."""
        model = self.queues.get(queue)
        return model is not None and model.consumer in self._consumers_with_tasks

    def continue_on_exception(self, queue: str) -> bool:
        model = self.queues.get(queue)
        return bool(model and model.consumer and self._continue.get(model.consumer, False))

    @cached_property
    def local_broker(self) -> LocalBroker:
        """The in-process broker every local publisher of this registry shares."""
        from ..publish.local import LocalBroker

        return LocalBroker(
            policy=self.queue_policy,
            dead_letter_queue=self.dead_letter_queue,
            continue_on_exception=self.continue_on_exception,
            served=self.served,
            hands_back=self.failure_queues.get,
            registry=self.task_registry,
            settings=self.settings,
            middleware=self.middleware,
        )

    def close(self) -> None:
        """Close every publisher's connection."""
        for components in self.components.values():
            for component in components:
                close = getattr(component, "close", None)
                if callable(close):
                    close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def dispatch_task(registry: Registry, task_name: str, body: Any, **options: Any) -> str:
    """Publish ``body`` to the queue of task ``task_name`` through its publisher_consumer."""
    task = registry.task(task_name)
    queue = registry.queues.get(task.queue)
    owner = task.publisher_consumer or (queue.consumer if queue else None)
    if owner is None:
        raise ConfigurationError(f"task {task_name!r}: queue {task.queue!r} has no consumer")
    return registry.publisher(owner).publish(body, routing_key=task.queue, **options)
