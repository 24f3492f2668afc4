"""Pyramid's thread locals around each plain task: ``get_current_registry()`` inside a task
(or its root factory) is the application's registry, as inside one of its web requests.

``async def`` tasks share the worker's event loop thread, where a thread-local stack would
mix up interleaved tasks: they, like every task, use ``request.registry``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

from pyramid.threadlocal import manager

from mqwire.runtime.dispatch import TaskEntry


def with_registry(entry: TaskEntry, registry: Any) -> TaskEntry:
    """``entry`` whose function and root factory run with ``registry`` pushed as current
    (``request`` None: a task has no web request); an ``async def`` task unchanged."""
    if entry.is_coroutine:
        return entry
    factory = entry.root_factory
    return dataclasses.replace(
        entry,
        function=_pushing(entry.function, registry),
        root_factory=_pushing(factory, registry) if factory is not None else None,
    )


def _pushing(function: Callable[..., Any], registry: Any) -> Callable[..., Any]:
    @functools.wraps(function)
    def run(*args: Any) -> Any:
        manager.push({"registry": registry, "request": None})
        try:
            return function(*args)
        finally:
            manager.pop()

    return run
