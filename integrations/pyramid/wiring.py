"""What a Pyramid application's configuration added, and the mqwire registry built from it.

``PyramidWiring`` collects the publisher_consumers (``add_publisher_consumer`` and
``mqwire.compiled``) and the tasks (``add_mq_task``, which ``config.scan()`` calls) as
Pyramid's actions run. It then builds one mqwire ``Registry`` through mqwire's own
``Configurator`` (the same settings grammar and checks as ``load()``), once per process: a
process forked from the one that configured the application (gunicorn, uwsgi) builds its own,
so no connection crosses a fork. Each registry built is closed when its process exits.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

from zope.interface import implementer

from mqwire.runtime.dispatch import TaskEntry
from mqwire.runtime.interfaces import PublishBatch, TaskRegistry
from mqwire.runtime.wiring.configurator import Configurator
from mqwire.runtime.wiring.load import CompiledWiring
from mqwire.runtime.wiring.registry import Registry

from .interfaces import IPublisher, IWiring
from .threadlocals import with_registry


@implementer(IWiring)
class PyramidWiring:
    """The mqwire side of one Pyramid application (a utility of its registry, ``IWiring``).

    Parameters:
        registry: the Pyramid application's registry; tasks see it as ``request.registry``.
        environ: where ``${VAR}`` placeholders are looked up when the registry is built
            (``os.environ`` then, when omitted).
    """

    def __init__(self, registry: Any, environ: Mapping[str, str] | None = None) -> None:
        self.pyramid_registry = registry
        self.environ = environ
        self.publisher_consumers: dict[str, str] = {}
        self.tasks: list[tuple[TaskEntry, str]] = []
        self.compiled: CompiledWiring | None = None
        self._lock = threading.Lock()
        self._built: tuple[int, int, Registry] | None = None  # (pid, version, registry)
        self._version = 0
        atexit.register(_close_at_exit, weakref.ref(self))

    def changed(self) -> None:
        """Something was added: the next ``registry()`` builds anew."""
        self._version += 1

    def registry(self) -> Registry:
        """This process's mqwire registry, built on first use (and after a change or fork).

        Raises:
            ConfigurationError: from mqwire's ``Configurator``: a setting, a factory, a task's
                queue; the message says which.
        """
        with self._lock:
            pid = os.getpid()
            if self._built is not None and self._built[:2] == (pid, self._version):
                return self._built[2]
            registry = self._build()
            if self._built is not None and self._built[0] == pid:
                self._built[2].close()  # replaced before use (configuration still running)
            self._built = (pid, self._version, registry)
            return registry

    def _build(self) -> Registry:
        compiled = self.compiled
        settings = {k: v for k, v in self.pyramid_registry.settings.items() if isinstance(k, str)}
        if compiled is not None:
            settings.update(compiled.settings)
        config = Configurator(
            settings,
            environ=self.environ,
            topology=compiled.topology if compiled else None,
            base_dir=compiled.base_dir if compiled else _here(settings),
            middleware=compiled.middleware if compiled else (),
            task_registry=cast(TaskRegistry, self.pyramid_registry),
        )
        compiled_tasks = list(compiled.tasks) if compiled else []
        functions = {entry.name: entry.function for entry, _ in compiled_tasks}
        # a task both compiled and scanned (the app scans the topology's package) runs once
        scanned = [(e, o) for e, o in self.tasks if functions.get(e.name) is not e.function]
        for entry, origin in [*compiled_tasks, *scanned]:
            config.add_task_entry(with_registry(entry, self.pyramid_registry), origin)
        # a directive overriding a compiled name (Pyramid's override of an include) wins
        pcs = {**(compiled.publisher_consumers if compiled else {}), **self.publisher_consumers}
        for name, prefix in pcs.items():
            config.add_publisher_consumer(name, prefix)
        return config.make_registry()

    def close(self) -> None:
        """Close this process's registry (its publishers' connections), if it was built."""
        with self._lock:
            built, self._built = self._built, None
        if built is not None and built[0] == os.getpid():
            built[2].close()


def _here(settings: Mapping[str, Any]) -> Path | None:
    """The folder of the application's INI when its settings say (``here``), for ``tls.*``."""
    here = settings.get("here")
    return Path(here) if isinstance(here, str) and here else None


def _close_at_exit(ref: Callable[[], PyramidWiring | None]) -> None:
    wiring = ref()
    if wiring is not None:
        wiring.close()


@implementer(IPublisher)
class ProcessPublisher:
    """The ``IPublisher`` utility of publisher_consumer ``name``: this process's publisher.

    It stands for ``wiring.registry().publisher(name)`` (``current``), built on the first
    publish in each process, so the utility can be fetched once and kept.
    """

    def __init__(self, wiring: PyramidWiring, name: str) -> None:
        self._wiring = wiring
        self.name = name

    @property
    def current(self) -> Any:
        """The publisher of this process (an ``AmqpPublisher`` or a local one)."""
        return self._wiring.registry().publisher(self.name)

    def publish(self, body: Any, routing_key: str, **options: Any) -> str:
        """``Publisher.publish`` (``properties``, ``exchange``, ``mandatory``,
        ``blocked_timeout``) on this process's publisher."""
        return cast(str, self.current.publish(body, routing_key, **options))

    def batch(self) -> contextlib.AbstractContextManager[PublishBatch]:
        return cast(contextlib.AbstractContextManager[PublishBatch], self.current.batch())

    def close(self) -> None:
        """Nothing: the publishers are closed with their registry when the process ends."""

    def __getattr__(self, attribute: str) -> Any:  # stats, connection_state, ...
        return getattr(self.current, attribute)

    def __repr__(self) -> str:
        return f"<ProcessPublisher {self.name!r}>"
