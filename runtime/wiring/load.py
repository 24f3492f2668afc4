"""``load("compiled.ini")``: the compiled wiring, ready to publish and consume."""

from __future__ import annotations

import importlib.util
import os
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

from mqwire.topology.ini import read_compiled_ini
from mqwire.topology.model import Topology

from ..dispatch import TaskEntry
from ..errors import ConfigurationError
from .configurator import Configurator
from .registry import Registry


def load(
    path: str | os.PathLike[str],
    *,
    environ: Mapping[str, str] | None = None,
    middleware: Sequence[object] = (),
) -> Registry:
    """Read a compiled INI and its task registry module; build every publisher_consumer.

    ``${VAR}`` placeholders are resolved from ``environ`` (``os.environ`` when omitted).
    ``middleware`` (instances) run after the topology's ``middleware:``, whose factories are
    called here, once each.

    Raises:
        TopologyErrors: the INI is malformed.
        ConfigurationError: a variable is missing, the registry module does not import, a
            middleware factory or a publisher_consumer factory fails; the message says which.
    """
    compiled = read_compiled(path)
    config = Configurator(
        compiled.settings,
        environ=environ,
        topology=compiled.topology,
        base_dir=compiled.base_dir,
        middleware=[*compiled.middleware, *middleware],
    )
    compiled.configure(config)
    return config.make_registry()


class CompiledWiring(NamedTuple):
    """What a compiled INI and its registry module give a ``Configurator``."""

    settings: Mapping[str, str]
    topology: Topology
    #: the folder ``schema:`` paths are relative to (the topology file's)
    base_dir: Path
    #: the topology's ``middleware:``, made (each factory called once)
    middleware: tuple[object, ...]
    #: (entry, where it comes from) per task of the registry module
    tasks: tuple[tuple[TaskEntry, str], ...]
    #: name -> settings prefix
    publisher_consumers: Mapping[str, str]

    def configure(self, config: Configurator) -> None:
        """Add the tasks, then the publisher_consumers, to ``config``."""
        for entry, origin in self.tasks:
            config.add_task_entry(entry, origin)
        for name, prefix in self.publisher_consumers.items():
            config.add_publisher_consumer(name, prefix)


def read_compiled(path: str | os.PathLike[str]) -> CompiledWiring:
    """Read a compiled INI, import its task registry module and make its middleware.

    Raises:
        TopologyErrors: the INI is malformed.
        ConfigurationError: as ``load()``.
    """
    ini = Path(path)
    try:
        text = ini.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read {ini}: {exc.strerror or exc}") from exc
    compiled = read_compiled_ini(text, source_name=str(ini))
    module = import_registry_module(ini.parent / compiled.registry)
    topology = compiled.topology
    return CompiledWiring(
        settings=compiled.settings,
        topology=topology,
        # schema: paths are relative to the topology file, which the INI names relative to itself.
        base_dir=(ini.parent / compiled.source).parent,
        middleware=tuple(_middleware(module, topology.middleware)),
        tasks=tuple(
            (_entry(name, entry), f"{compiled.registry}:{name}")
            for name, entry in getattr(module, "TASKS", {}).items()
        ),
        publisher_consumers={pc.name: pc.prefix for pc in topology.publisher_consumers.values()},
    )


def import_registry_module(path: Path) -> ModuleType:
    """Import a generated registry module by file path (it need not be on ``sys.path``).

    Raises:
        ConfigurationError: naming the module a task lives in when its import fails.
    """
    # A name of its own per file; crc32, as hashlib would cost every worker 0.7 MiB.
    digest = zlib.crc32(str(path.resolve()).encode())
    spec = importlib.util.spec_from_file_location(f"mqwire_registry_{digest:08x}", path)
    if spec is None or spec.loader is None or not path.is_file():
        raise ConfigurationError(f"task registry {path} is missing; run mq-compile")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the application's import error, with what to do about it
        raise ConfigurationError(
            f"cannot import the task registry {path}: {type(exc).__name__}: {exc} "
            "(is the application's package installed or on PYTHONPATH?)"
        ) from exc
    return module


def _middleware(module: ModuleType, paths: Sequence[str]) -> list[object]:
    """Call each middleware factory the registry module holds (``paths`` name them).

    Raises:
        ConfigurationError: the module does not match the INI (compile again), or a factory
            raised; naming the factory.
    """
    if not paths:  # without middleware the module binds no MIDDLEWARE (a module may be so named)
        return []
    factories = getattr(module, "MIDDLEWARE", None)
    if not isinstance(factories, tuple) or len(factories) != len(paths):
        raise ConfigurationError(
            f"the task registry {module.__file__} does not list the INI's middleware "
            f"({', '.join(paths)}); run mq-compile again"
        )
    made = []
    for path, factory in zip(paths, factories, strict=True):
        try:
            made.append(factory())
        except Exception as exc:  # the application's error, named
            raise ConfigurationError(
                f"middleware {path!r} raised {type(exc).__name__}: {exc}"
            ) from exc
    return made


def _entry(name: str, entry: Mapping[str, Any]) -> TaskEntry:
    return TaskEntry(
        name=name,
        function=entry["task"],
        queue=entry["queue"],
        publisher_consumer=entry.get("publisher_consumer"),
        root_factory=entry.get("root_factory"),
        timeout=entry.get("timeout"),
        path=entry.get("task_path", ""),
    )
