"""What ``@task_config`` leaves on a function for a scan to find.

Apart from ``scan.py`` so that application modules importing the decorator (and so every
worker) do not load the scanner and ``pkgutil``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

#: Attribute under which ``task_config`` stores its TaskMark on a function.
TASK_MARK = "__mqwire_task__"


class TaskMark(NamedTuple):
    """What ``@task_config`` records on a function; it registers nothing by itself."""

    name: str
    queue: str
    root_factory: Callable[..., Any] | None = None
    consumer: str | None = None
    timeout: float | None = None
