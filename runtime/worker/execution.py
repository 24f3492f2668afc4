"""Where the worker runs a task: coroutines on the event loop, plain functions in a thread pool.

Pure asyncio, no pika: the worker hands in a delivery and gets an ``Outcome`` back. A plain
function runs in a bounded pool so the loop keeps heartbeats, acks and other queues flowing
while it works; a coroutine runs on the loop itself and must not block.
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
from collections.abc import Coroutine, Mapping
from functools import partial
from typing import Any, NamedTuple, TypeVar

from mqwire.topology.model import retry_queue_name

from ..dispatch import (
    Action,
    Delivery,
    Outcome,
    QueuePolicy,
    TaskEntry,
    call_task,
    dead_letter_properties,
    failure_outcome,
    prepare,
    retry_properties,
)
from ..middleware import Chain, TaskHooks
from ..request import MessageRequest
from ..wire import WireMessage, new_message_id
from .task_threads import TaskThreads
from .time_limits import TimeLimit, start_limited

T = TypeVar("T")


if sys.version_info >= (3, 12):

    def start_task(
        coro: Coroutine[Any, Any, T], context: contextvars.Context | None = None
    ) -> asyncio.Task[T]:
        """A task that has already run up to its first wait: a message's task starts in the
        loop turn that received it, not one turn later. ``context``: the one it runs in
        (default: a copy of the current one)."""
        loop = asyncio.get_running_loop()
        return asyncio.Task(coro, loop=loop, eager_start=True, context=context)

else:

    def start_task(
        coro: Coroutine[Any, Any, T], context: contextvars.Context | None = None
    ) -> asyncio.Task[T]:
        """A task scheduled as usual: its first step runs in the next loop turn."""
        return asyncio.get_running_loop().create_task(coro, context=context)


class Started(NamedTuple):
    """A decoded delivery whose task is under way, in its thread or as an asyncio task."""

    task: TaskEntry
    request: MessageRequest
    running: asyncio.Future[Any]
    #: the middleware's hooks for this delivery (``after`` once it is settled), if any
    hooks: TaskHooks | None = None


def start(
    delivery: Delivery,
    policy: QueuePolicy,
    threads: TaskThreads,
    *,
    registry: Any = None,
    settings: Mapping[str, str] | None = None,
    middleware: Chain | None = None,
) -> Outcome | Started:
    """Decode ``delivery`` and set its task going; loop thread only.

    The worker calls this first thing on a delivery and does its bookkeeping after: a plain
    task is in its thread by then, and a coroutine is its own asyncio task, with no worker
    coroutine between it and the message (on 3.12+ it has already run up to its first wait
    or to its end). An ``Outcome`` means there is nothing to run (dead-lettered). A task's
    ``timeout:`` counts from when it starts, and its future ends with ``TaskTimeout`` if it
    overruns (``time_limits``). ``middleware`` (None when it has no task hooks): its
    ``before_task`` hooks run right before the task, where it runs, in a context of the
    delivery's own (``TaskHooks``), which the returned ``hooks`` keeps for ``after_task``.
    """
    prepared = prepare(delivery, policy, registry=registry, settings=settings)
    if isinstance(prepared, Outcome):
        return prepared
    task, request = prepared
    limit = None
    if task.timeout is not None:
        limit = TimeLimit(task.timeout, task.name, delivery.message_id or "")
    if middleware is not None:
        return _start_hooked(task, request, threads, limit, TaskHooks(middleware, request))
    if not task.is_coroutine:
        return Started(task, request, threads.submit(call_task, task, request, limit=limit))
    try:
        running: asyncio.Future[Any]
        if limit is None:
            running = start_task(call_task(task, request))
        else:
            coro = call_task(task, request)
            running = start_limited(coro, limit, threads.grace, threads.stuck, start_task)
    except Exception as exc:  # the root factory failed: the task's failure, judged by finish
        running = asyncio.get_running_loop().create_future()
        running.set_exception(exc)
    return Started(task, request, running)


def _start_hooked(
    task: TaskEntry,
    request: MessageRequest,
    threads: TaskThreads,
    limit: TimeLimit | None,
    hooks: TaskHooks,
) -> Started:
    """``start`` with the middleware's hooks: a plain task's thread runs ``before_task`` and
    the task in the delivery's context; an ``async def`` task is an asyncio task in that
    context whose first step is ``before_task``."""
    if not task.is_coroutine:
        running = threads.submit(hooks.call, call_task, task, request, limit=limit)
        return Started(task, request, running, hooks)
    coro = hooks.call_async(call_task, task, request)
    launch = partial(start_task, context=hooks.context)
    if limit is None:
        running = launch(coro)
    else:
        running = start_limited(coro, limit, threads.grace, threads.stuck, launch)
    return Started(task, request, running, hooks)


async def finish(delivery: Delivery, policy: QueuePolicy, started: Outcome | Started) -> Outcome:
    """Wait for the started task and judge it; raises only ``CancelledError``.

    Cancellation (shutdown before a queued plain task started) propagates so the caller can
    requeue the message instead of judging it. An overrun is a ``TaskTimeout`` failure.
    """
    if isinstance(started, Outcome):
        return started
    task, running = started.task, started.running
    try:
        await running
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # the task's failure is the message's outcome
        return failure_outcome(delivery, policy, exc)
    return task.acked


def failure_message(
    delivery: Delivery, outcome: Outcome, dead_letter_queue: str, *, now: float
) -> WireMessage:
    """The copy of a failed delivery to publish: to its delay queue, or its dead-letter queue."""
    if outcome.action is Action.RETRY:
        target = retry_queue_name(delivery.queue, outcome.delay or 0)
        properties = retry_properties(delivery)
    else:
        target = dead_letter_queue
        properties = dead_letter_properties(delivery, outcome, now=now)
    message_id = delivery.message_id or new_message_id()  # trace even a message without one
    properties["message_id"] = message_id
    return WireMessage("", target, delivery.body, message_id, properties)
