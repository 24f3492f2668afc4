"""Running a delivery to its end in the caller's thread: how the local transport runs tasks.

The worker starts a task on its loop or in a thread and judges it later; the local transport
has neither, so it calls the task here and waits for it, an ``async def`` one included, and
no longer than its ``timeout:`` (``limited``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import inspect
from collections.abc import Awaitable, Mapping
from functools import partial
from typing import Any

from ..dispatch import (
    DEFAULT_TIMEOUT_GRACE,
    Delivery,
    Outcome,
    QueuePolicy,
    TaskEntry,
    call_task,
    failure_outcome,
    prepare,
)
from ..interfaces import TaskRegistry
from ..middleware import Chain, TaskHooks, TaskOutcome
from ..request import MessageRequest
from .limited import call_within


def dispatch(
    delivery: Delivery,
    policy: QueuePolicy,
    *,
    registry: TaskRegistry | None = None,
    settings: Mapping[str, str] | None = None,
    middleware: Chain | None = None,
    timeout_grace: float = DEFAULT_TIMEOUT_GRACE,
) -> Outcome:
    """Run ``policy.task`` on ``delivery``; never raises for anything the message or task did.

    ``middleware``'s task hooks run around it: ``before_task`` right before it,
    ``after_task`` once its outcome is decided (a local outcome is final), in one context.
    A task with a ``timeout:`` runs in a thread of its own and fails with ``TaskTimeout``
    past it (``limited``), interrupted and given ``timeout_grace`` seconds to end.
    """
    prepared = prepare(delivery, policy, registry=registry, settings=settings)
    if isinstance(prepared, Outcome):
        return prepared
    task, request = prepared
    hooks = TaskHooks(middleware, request) if middleware and middleware.tasks else None
    if hooks is None:
        call = partial(call_to_end, task, request)
    else:
        call = partial(hooks.call, call_to_end, task, request)
    try:
        if task.timeout is None:
            call()
        else:
            call_within(call, task.timeout, timeout_grace, task.name)
    except Exception as exc:  # a task's failure is the message's outcome, not ours to crash on
        outcome = failure_outcome(delivery, policy, exc)
    else:
        outcome = task.acked
    if hooks is not None:
        hooks.after(TaskOutcome(outcome.action.value, outcome.error, outcome.reason))
    return outcome


def call_to_end(task: TaskEntry, request: MessageRequest) -> None:
    """Call the task, and run it to its end if it is an ``async def`` one."""
    result = call_task(task, request)
    if inspect.isawaitable(result):
        run_to_completion(result)


def run_to_completion(awaitable: Awaitable[Any]) -> Any:
    """Run an ``async def`` task outside the worker (the local transport), synchronously.

    On a thread with a running event loop (an async web app or test) it runs on a helper
    thread with its own loop, since the caller's loop is busy waiting for ``publish()``; in
    a copy of the caller's ``contextvars`` context either way.
    """

    async def wait() -> Any:
        return await awaitable

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(wait())
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="mqwire-local") as pool:
        context = contextvars.copy_context()
        return pool.submit(context.run, asyncio.run, wait()).result()
