"""``@task_config``: marks a function as a task; registration happens only by an explicit scan.

Two scans find the mark: ``mq-compile``'s (``scan:``, through the attribute ``TASK_MARK``) and
Pyramid's ``config.scan()``, through a venusian callback attached only where venusian is
installed (it comes with Pyramid; mqwire does not depend on it). The callback hands the
function to the ``add_mq_task`` directive of ``config.include("mqwire.pyramid")``.

A worker serving a compiled INI imports its tasks inside ``without_scan_callbacks()``: no
Pyramid scan runs there, and venusian's attach inspects the caller's frame and source file
(``inspect.getframeinfo``), which cost a worker's start-up a few milliseconds per task.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from types import ModuleType
from typing import Any, TypeVar

from mqwire.topology.task_mark import TASK_MARK, TaskMark

F = TypeVar("F", bound=Callable[..., Any])


def task_config(
    root_factory: Callable[..., Any] | None = None,
    queue: str | None = None,
    name: str | None = None,
    consumer: str | None = None,
    timeout: float | None = None,
) -> Callable[[F], F]:
    """Attach task metadata to a function and return it unchanged.

    Nothing is registered at import time: ``mq-compile`` finds marked functions in the packages
    listed under ``scan:`` and writes them into the registry, where reviewers can see them.

    Parameters:
        root_factory: called as ``root_factory(request)`` to build the task's ``context``.
        queue: the queue whose messages run this task (required).
        name: the task name; defaults to the function's name.
        consumer: the publisher_consumer expected to consume ``queue`` (checked at compile time).
        timeout: seconds the task may run before it counts as failed.
    """
    if not queue:
        raise TypeError("task_config() needs queue=: the queue whose messages run this task")

    def mark(function: F) -> F:
        setattr(
            function,
            TASK_MARK,
            TaskMark(
                name=name or function.__name__,
                queue=queue,
                root_factory=root_factory,
                consumer=consumer,
                timeout=timeout,
            ),
        )
        venusian = _venusian() if _SCAN_CALLBACKS.get() else None
        if venusian is not None:

            def found(scanner: Any, name: str, ob: Any) -> None:
                found_by_pyramid_scan(scanner, ob, info.codeinfo)

            # depth 1: the frame defining the function, whose module venusian's scan checks
            info = venusian.attach(function, found, category=VENUSIAN_CATEGORY, depth=1)
        return function

    return mark


#: False inside ``without_scan_callbacks()``: marks only, no venusian callback.
_SCAN_CALLBACKS: ContextVar[bool] = ContextVar("mqwire_scan_callbacks", default=True)


@contextmanager
def without_scan_callbacks() -> Iterator[None]:
    """Tasks decorated inside (their modules imported here) get the mark that ``mq-compile``
    and the compiled registry use, but no venusian callback: for a process where no Pyramid
    ``config.scan()`` will look, such as ``mserve`` serving a compiled INI. A module imported
    here stays so; a later ``config.scan()`` of it would not find its tasks."""
    token = _SCAN_CALLBACKS.set(False)
    try:
        yield
    finally:
        _SCAN_CALLBACKS.reset(token)


#: The venusian category of the callback: Pyramid's, the only one ``config.scan()`` runs unless
#: told otherwise (since Pyramid 2.0).
VENUSIAN_CATEGORY = "pyramid"


@functools.cache
def _venusian() -> ModuleType | None:
    """venusian if installed (imported at the first decoration), else None."""
    try:
        import venusian
    except ImportError:
        return None
    return venusian  # type: ignore[no-any-return]  # untyped


def found_by_pyramid_scan(scanner: Any, function: Any, codeinfo: Any) -> None:
    """Pyramid's ``config.scan()`` found ``function``: add it through the ``add_mq_task``
    directive, with the decorator's place (``codeinfo``) for Pyramid's conflict messages. A
    scan without a Pyramid ``config`` (another venusian user), or of an application that did
    not include ``mqwire.pyramid``, adds nothing."""
    config = getattr(scanner, "config", None)
    add = getattr(config, "add_mq_task", None) if config is not None else None
    if add is not None:
        add(function, _info=codeinfo)
