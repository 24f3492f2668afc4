"""Running a delivery to its end in the caller's thread: how the local transport runs tasks.

The worker starts a task on its loop or in a thread and judges it later; the local transport
has neither, so it calls the task here and waits for it, an ``async def`` one included.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
from collections.abc import Awaitable, Mapping
from typing import Any

from ..dispatch import Delivery, Outcome, QueuePolicy, call_task, failure_outcome, prepare
from ..interfaces import TaskRegistry


def dispatch(
    delivery: Delivery,
    policy: QueuePolicy,
    *,
    registry: TaskRegistry | None = None,
    settings: Mapping[str, str] | None = None,
) -> Outcome:
    """Run ``policy.task`` on ``delivery``; never raises for anything the message or task did."""
    prepared = prepare(delivery, policy, registry=registry, settings=settings)
    if isinstance(prepared, Outcome):
        return prepared
    task, request = prepared
    try:
        result = call_task(task, request)
        if inspect.isawaitable(result):
            run_to_completion(result)
    except Exception as exc:  # a task's failure is the message's outcome, not ours to crash on
        return failure_outcome(delivery, policy, exc)
    return task.acked


def run_to_completion(awaitable: Awaitable[Any]) -> Any:
    """Run an ``async def`` task outside the worker (the local transport), synchronously.

    On a thread with a running event loop (an async web app or test) it runs on a helper
    thread with its own loop, since the caller's loop is busy waiting for ``publish()``.
    """

    async def wait() -> Any:
        return await awaitable

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(wait())
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="mqwire-local") as pool:
        return pool.submit(asyncio.run, wait()).result()
