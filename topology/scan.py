"""Find ``@task_config``-marked functions in packages: the explicit scan behind ``scan:``."""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from .errors import Location
from .task_mark import TASK_MARK, TaskMark

__all__ = [
    "TASK_MARK",
    "ScanProblem",
    "ScanResult",
    "ScannedTask",
    "Scanner",
    "TaskMark",
    "import_path_of",
    "scan_packages",
]


@dataclass(frozen=True)
class ScannedTask:
    """A marked function found by a scan, with import paths instead of objects."""

    name: str
    task: str
    queue: str
    location: Location
    root_factory: str | None = None
    consumer: str | None = None
    timeout: float | None = None


@dataclass(frozen=True)
class ScanProblem:
    """Something the scan of ``scan[index]`` could not do (import, or name a function)."""

    index: int
    message: str
    location: Location | None = None


@dataclass(frozen=True)
class ScanResult:
    tasks: tuple[ScannedTask, ...] = ()
    problems: tuple[ScanProblem, ...] = ()
    #: True when ``scan:`` packages were not imported (no scanner): their tasks are unknown.
    skipped: bool = False


#: Scans packages; injected into the loader so tests can pass a fake.
Scanner = Callable[[Sequence[str]], ScanResult]


def import_path_of(obj: Any) -> str | None:
    """``module:qualname`` if importing that gives back ``obj``, else None (lambdas, closures)."""
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str) or "<" in qualname:
        return None
    target: Any = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part, None)
    return f"{module}:{qualname}" if target is obj else None


def scan_packages(
    packages: Sequence[str], *, import_module: Callable[[str], ModuleType] = importlib.import_module
) -> ScanResult:
    """Import each package and its submodules; collect every marked function defined there."""
    tasks: dict[str, ScannedTask] = {}
    problems: list[ScanProblem] = []
    for index, package in enumerate(packages):
        for module_or_error in _walk(package, import_module):
            if isinstance(module_or_error, str):
                problems.append(ScanProblem(index, module_or_error))
                continue
            for function in _marked_functions(module_or_error):
                found = _scanned(function)
                if isinstance(found, ScanProblem):
                    problems.append(ScanProblem(index, found.message, found.location))
                else:
                    tasks.setdefault(found.task, found)
    return ScanResult(tuple(sorted(tasks.values(), key=lambda t: t.task)), tuple(problems))


def _walk(package: str, import_module: Callable[[str], ModuleType]) -> Iterator[ModuleType | str]:
    try:
        root = import_module(package)
    except Exception as exc:  # any import failure is the user's to see, not ours to crash on
        yield f"cannot import {package!r}: {type(exc).__name__}: {exc}"
        return
    yield root
    for info in pkgutil.walk_packages(getattr(root, "__path__", []), prefix=f"{package}."):
        try:
            yield import_module(info.name)
        except Exception as exc:
            yield f"cannot import {info.name!r}: {type(exc).__name__}: {exc}"


def _marked_functions(module: ModuleType) -> list[Any]:
    """Marked callables defined in ``module`` itself (re-exports are found where defined)."""
    found = [
        value
        for value in vars(module).values()
        if isinstance(getattr(value, TASK_MARK, None), TaskMark)
        and getattr(value, "__module__", None) == module.__name__
    ]
    return sorted(found, key=lambda f: f.__qualname__)


def _scanned(function: Any) -> ScannedTask | ScanProblem:
    mark: TaskMark = getattr(function, TASK_MARK)
    location = source_location(function)
    path = import_path_of(function)
    if path is None:
        return ScanProblem(0, "a @task_config function must be importable by name", location)
    factory: str | None = None
    if mark.root_factory is not None:
        factory = import_path_of(mark.root_factory)
        if factory is None:
            return ScanProblem(
                0,
                f"root_factory {mark.root_factory!r} of {path} is not importable by name",
                location,
            )
    return ScannedTask(
        name=mark.name,
        task=path,
        queue=mark.queue,
        location=location,
        root_factory=factory,
        consumer=mark.consumer,
        timeout=mark.timeout,
    )


def source_location(obj: Any) -> Location:
    """Where ``obj`` is defined, relative to the working directory when it lies below it."""
    try:
        filename = inspect.getsourcefile(obj) or "<unknown>"
        line = inspect.getsourcelines(obj)[1]
    except (OSError, TypeError):
        return Location(f"<{getattr(obj, '__module__', '?')}>")
    relative = os.path.relpath(filename)
    return Location(filename if relative.startswith("..") else relative, line)
