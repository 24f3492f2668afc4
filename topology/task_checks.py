"""Checks on tasks, from ``tasks:`` and from the scan: each binds one consumed queue."""

from __future__ import annotations

from typing import Any

from ._yaml import locate
from .check_state import CheckState
from .errors import Location, PathPart, TopologyError
from .model import NAME_RE
from .scan import ScannedTask
from .text_checks import import_path_problem


def check_tasks(checker: CheckState) -> None:
    """Report unknown or unconsumed queues, queues with two tasks, and scan conflicts."""
    owners: dict[str, tuple[str, Location]] = {}
    for name, task in checker.tasks.items():
        for key in ("task", "root_factory"):
            bad_path = import_path_problem(task[key]) if isinstance(task.get(key), str) else None
            if bad_path:
                checker.error(("tasks", name, key), bad_path)
        path: tuple[PathPart, ...] = ("tasks", name, "queue")
        queue = task.get("queue")
        if isinstance(queue, str) and checker.reference(path, "queue", queue, checker.queues):
            location = locate(checker.parsed, path)
            if _consumed(checker, queue, path, None):
                _claim(checker, owners, queue, name, location, path)
    for problem in checker.scan.problems:
        location = problem.location or locate(checker.parsed, ("scan", problem.index))
        scan_path = None if problem.location else ("scan", problem.index)
        checker.errors.append(TopologyError(location, problem.message, scan_path))
    data = checker.parsed.data if isinstance(checker.parsed.data, dict) else {}
    for key in ("scan", "middleware"):  # packages, and middleware factories' paths
        items = data.get(key)
        for index, item in enumerate(items if isinstance(items, list) else []):
            bad_path = import_path_problem(item) if isinstance(item, str) else None
            if bad_path:
                checker.error((key, index), bad_path)
    for scanned in checker.scan.tasks:
        _check_scanned(checker, scanned, owners)


def _check_scanned(
    checker: CheckState, task: ScannedTask, owners: dict[str, tuple[str, Location]]
) -> None:
    def error(message: str, hint: str | None = None) -> None:
        checker.errors.append(TopologyError(task.location, f"{task.task}: {message}", hint=hint))

    if task.name in checker.tasks:
        yaml_path: tuple[PathPart, ...] = ("tasks", task.name)
        checker.errors.append(
            TopologyError(
                locate(checker.parsed, yaml_path, key=True),
                f"task {task.name!r} is defined under tasks: and by @task_config on {task.task}",
                yaml_path,
                "keep one of the two",
                (task.location,),
            )
        )
        return
    if not NAME_RE.fullmatch(task.name):
        error(f"task name {task.name!r} is not a valid name")
    for path in filter(None, (task.task, task.root_factory)):
        bad_path = import_path_problem(path)
        if bad_path:
            error(bad_path)
    if not _valid_timeout(task.timeout):
        error(f"timeout must be a number of seconds above 0, not {task.timeout!r}")
    queue = task.queue
    if not isinstance(queue, str) or queue not in checker.queues:
        error(f"unknown queue {queue!r}", hint="declare it under queues:")
        return
    consumer = checker.queues[queue].get("consumer")
    if task.consumer is not None and consumer != task.consumer:
        error(f"consumer={task.consumer!r}, but queue {queue!r} is consumed by {consumer!r}")
    elif _consumed(checker, queue, None, task.location):
        _claim(checker, owners, queue, task.name, task.location, None)


def _valid_timeout(timeout: Any) -> bool:
    if timeout is None:
        return True
    return isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 0


def _consumed(
    checker: CheckState,
    queue: str,
    path: tuple[PathPart, ...] | None,
    location: Location | None,
) -> bool:
    """A task's queue must be consumed by some publisher_consumer, or the task never runs."""
    if "consumer" in checker.queues[queue]:
        return True
    where = location or locate(checker.parsed, path or ())
    checker.errors.append(
        TopologyError(
            where,
            f"queue {queue!r} is consumed by no publisher_consumer, so this task never runs",
            path,
            f"add `consumer: NAME` to queue {queue!r}",
            (locate(checker.parsed, ("queues", queue), key=True),),
        )
    )
    return False


def _claim(
    checker: CheckState,
    owners: dict[str, tuple[str, Location]],
    queue: str,
    name: str,
    location: Location,
    path: tuple[PathPart, ...] | None,
) -> None:
    """A queue has at most one task: a second one is an error naming the first."""
    if queue in owners:
        other, other_location = owners[queue]
        checker.errors.append(
            TopologyError(
                location,
                f"queue {queue!r} already runs task {other!r}; a queue has at most one task",
                path,
                "give this task its own queue",
                (other_location,),
            )
        )
    else:
        owners[queue] = (name, location)
