"""Building a registry: from a compiled INI (``load``) or by hand (``Configurator``).

``Configurator`` keeps the old programmatic path: ``add_publisher_consumer(name, prefix)`` reads
the same settings keys, ``scan(package)`` collects ``@task_config`` functions, ``add_task``
adds one; ``make_registry()`` builds every publisher_consumer through its factories.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mqwire.topology.model import Queue, Topology
from mqwire.topology.routing import RouteTable

from ..body_schema import load_body_validator
from ..dispatch import BodyValidator, TaskEntry
from ..errors import ConfigurationError
from ..interfaces import TaskRegistry
from ..middleware import Chain
from ..settings import PublisherConsumerSettings, read_settings
from .registry import Registry

log = logging.getLogger("mqwire.tls")


def resolve_dotted(path: str) -> Any:
    """``pkg.mod:attr`` or ``pkg.mod.attr`` to the object.

    Raises:
        ConfigurationError: saying which module or attribute is missing.
    """
    module_name, sep, attribute = path.partition(":")
    if not sep:
        module_name, _, attribute = path.rpartition(".")
    try:
        target: Any = importlib.import_module(module_name)
    except Exception as exc:  # the user's import error, reported with its cause
        raise ConfigurationError(f"cannot import {module_name!r} (for {path!r}): {exc}") from exc
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise ConfigurationError(f"module {module_name!r} does not define {attribute!r}")
        target = getattr(target, part)
    return target


class Configurator:
    """Collects settings, publisher_consumers and tasks, then builds a ``Registry``.

    Parameters:
        settings: the flat settings (``<prefix>``, ``<prefix>.url``, ``<prefix>.routes``...).
        environ: where ``${VAR}`` placeholders are looked up; ``os.environ`` when omitted.
        topology: the compiled topology, when there is one (queues, retry policies, schemas).
        base_dir: the folder ``schema:`` and relative ``tls.*`` paths are relative to.
        middleware: run around every task and publish, in this order (``add_middleware``
            adds more after them); see ``mqwire.runtime.middleware``.
        task_registry: what tasks see as ``request.registry``; the built ``Registry`` when
            omitted (``mqwire.pyramid`` passes the Pyramid application's registry).
    """

    def __init__(
        self,
        settings: Mapping[str, str] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        topology: Topology | None = None,
        base_dir: Path | None = None,
        middleware: Sequence[object] = (),
        task_registry: TaskRegistry | None = None,
    ) -> None:
        self.settings = dict(settings or {})
        self.task_registry = task_registry
        self.environ = dict(os.environ if environ is None else environ)
        self.topology = topology
        self.base_dir = base_dir or Path.cwd()
        self._pcs: dict[str, PublisherConsumerSettings] = {}
        self._tasks: dict[str, tuple[TaskEntry, str]] = {}
        self._registry: Registry | None = None
        self._validators: dict[str, BodyValidator] | None = None
        self._middleware: list[object] = []
        for item in middleware:
            self.add_middleware(item)

    def add_middleware(self, middleware: object) -> None:
        """Run ``middleware`` (a ``Middleware`` instance) around every task and publish,
        after those added before it.

        Raises:
            ConfigurationError: it overrides none of the hooks, or the registry is built.
        """
        if self._registry is not None:
            raise ConfigurationError("add middleware before make_registry()")
        try:
            Chain([middleware])
        except TypeError as exc:
            raise ConfigurationError(str(exc)) from None
        self._middleware.append(middleware)

    def add_publisher_consumer(self, name: str, settings_prefix: str) -> None:
        """Register publisher_consumer ``name`` described by the keys below ``settings_prefix``."""
        if name in self._pcs:
            raise ConfigurationError(f"publisher_consumer {name!r} is added twice")
        pc = read_settings(self.settings, name, settings_prefix, self.environ, self.base_dir)
        if pc.tls and pc.tls.unverified_warning and pc.transport == "amqp":
            log.warning("publisher_consumer %r: %s", name, pc.tls.unverified_warning)
        self._pcs[name] = pc

    def settings_for(self, prefix: str) -> PublisherConsumerSettings:
        for pc in self._pcs.values():
            if pc.prefix == prefix:
                return pc
        raise ConfigurationError(f"no publisher_consumer was added with prefix {prefix!r}")

    def scan(self, package: str) -> None:
        """Add every ``@task_config`` function in ``package`` and its submodules."""
        from mqwire.topology.scan import scan_packages  # only when scanning

        result = scan_packages([package])
        if result.problems:
            raise ConfigurationError("; ".join(p.message for p in result.problems))
        for found in result.tasks:
            self._add(
                TaskEntry(
                    name=found.name,
                    function=resolve_dotted(found.task),
                    queue=found.queue,
                    publisher_consumer=found.consumer,
                    root_factory=resolve_dotted(found.root_factory) if found.root_factory else None,
                    timeout=found.timeout,
                    path=found.task,
                ),
                str(found.location),
            )

    def add_task(
        self,
        function: Callable[..., Any],
        *,
        queue: str,
        name: str | None = None,
        root_factory: Callable[..., Any] | None = None,
        timeout: float | None = None,
        consumer: str | None = None,
    ) -> None:
        """Add one task by hand (what ``@task_config`` plus ``scan`` do for you)."""
        from mqwire.topology.scan import import_path_of

        path = import_path_of(function) or repr(function)
        entry = TaskEntry(
            name or function.__name__, function, queue, consumer, root_factory, timeout, path
        )
        self._add(entry, path)

    def add_task_entry(self, entry: TaskEntry, origin: str) -> None:
        self._add(entry, origin)

    def _add(self, entry: TaskEntry, origin: str) -> None:
        if entry.name in self._tasks:
            raise ConfigurationError(
                f"task {entry.name!r} is defined twice: {self._tasks[entry.name][1]} and {origin}"
            )
        for other, other_origin in self._tasks.values():
            if other.queue == entry.queue:
                raise ConfigurationError(
                    f"queue {entry.queue!r} would run two tasks: {other.name!r} ({other_origin}) "
                    f"and {entry.name!r} ({origin}); a queue has at most one task"
                )
        self._tasks[entry.name] = (entry, origin)

    def queues(self) -> Mapping[str, Queue]:
        """The topology's queues, or, without one, those the settings and tasks name."""
        if self.topology is not None:
            return self.topology.queues
        queues: dict[str, Queue] = {}
        for pc in self._pcs.values():
            for queue in [*pc.queues, *(r.queue for r in pc.routes)]:
                queues.setdefault(queue, Queue(queue, consumer=pc.name))
        for entry, _ in self._tasks.values():
            queues.setdefault(entry.queue, Queue(entry.queue, consumer=entry.publisher_consumer))
        return queues

    def queue_names(self) -> list[str]:
        return sorted(self.queues())

    def body_validators(self) -> Mapping[str, BodyValidator]:
        """A validator per queue with a ``schema:`` file, each file read once."""
        if self._validators is None:
            self._validators = {
                q.name: load_body_validator(self.base_dir / q.schema, q.name)
                for q in self.queues().values()
                if q.schema
            }
        return self._validators

    def exchange_routes(self) -> Mapping[str, Callable[[str], tuple[str, ...]]]:
        """Routing-key -> queues of each exchange, for local publishes to another's exchange."""
        return {
            pc.exchange: RouteTable(pc.routes).queues_for
            for pc in self._pcs.values()
            if pc.exchange
        }

    @property
    def registry(self) -> Registry:
        """The registry being built; factories reach it while ``make_registry`` runs."""
        if self._registry is None:
            raise ConfigurationError("the registry exists only once make_registry() runs")
        return self._registry

    def make_registry(self) -> Registry:
        """Build every publisher_consumer through its factories and return the registry."""
        queues = self.queues()
        for entry, origin in self._tasks.values():
            if entry.queue not in queues:
                raise ConfigurationError(
                    f"task {entry.name!r} ({origin}): unknown queue {entry.queue!r}"
                )
        self._registry = Registry(
            settings=self.settings,
            queues=queues,
            tasks={name: entry for name, (entry, _) in self._tasks.items()},
            validators=self.body_validators(),
            continue_on_exception={n: pc.continue_on_exception for n, pc in self._pcs.items()},
            schedules=self.topology.schedules if self.topology is not None else None,
            delays=self.topology.delays if self.topology is not None else False,
            middleware=self._middleware,
            task_registry=self.task_registry,
        )
        for pc in self._pcs.values():
            for factory_path in pc.factories:
                factory = resolve_dotted(factory_path)
                self._registry.add_component(pc.name, factory(self, pc.prefix))
        return self._registry
