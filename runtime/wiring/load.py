"""``load("compiled.ini")``: the compiled wiring, ready to publish and consume."""

from __future__ import annotations

import importlib.util
import os
import zlib
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from mqwire.topology.ini import read_compiled_ini

from ..dispatch import TaskEntry
from ..errors import ConfigurationError
from .configurator import Configurator
from .registry import Registry


def load(path: str | os.PathLike[str], *, environ: Mapping[str, str] | None = None) -> Registry:
    """Read a compiled INI and its task registry module; build every publisher_consumer.

    ``${VAR}`` placeholders are resolved from ``environ`` (``os.environ`` when omitted).

    Raises:
        TopologyErrors: the INI is malformed.
        ConfigurationError: a variable is missing, the registry module does not import, or a
            factory fails; the message says which.
    """
    ini = Path(path)
    try:
        text = ini.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read {ini}: {exc.strerror or exc}") from exc
    compiled = read_compiled_ini(text, source_name=str(ini))
    module = import_registry_module(ini.parent / compiled.registry)
    # schema: paths are relative to the topology file, which the INI names relative to itself.
    topology_dir = (ini.parent / compiled.source).parent
    config = Configurator(
        compiled.settings, environ=environ, topology=compiled.topology, base_dir=topology_dir
    )
    for name, entry in getattr(module, "TASKS", {}).items():
        config.add_task_entry(_entry(name, entry), f"{compiled.registry}:{name}")
    for pc in compiled.topology.publisher_consumers.values():
        config.add_publisher_consumer(pc.name, pc.prefix)
    return config.make_registry()


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
