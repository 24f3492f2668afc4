"""``@task_config``: marks a function as a task; registration happens only by an explicit scan."""

from __future__ import annotations

from collections.abc import Callable
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
        return function

    return mark
