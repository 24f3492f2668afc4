"""Where the worker runs a task: coroutines on the event loop, plain functions in a thread pool.

Pure asyncio, no pika: the worker hands in a delivery and gets an ``Outcome`` back. A plain
function runs in a bounded pool so the loop keeps heartbeats, acks and other queues flowing
while it works; a coroutine runs on the loop itself and must not block.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from typing import Any

from mqwire.topology.model import retry_queue_name

from .dispatch import (
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
from .errors import TaskTimeout
from .task_threads import TaskThreads
from .wire import WireMessage


def is_coroutine_task(task: TaskEntry) -> bool:
    """True when the task is an ``async def`` (also through ``functools.partial``)."""
    return task.is_coroutine


async def execute(
    delivery: Delivery,
    policy: QueuePolicy,
    threads: TaskThreads,
    *,
    registry: Any = None,
    settings: Mapping[str, str] | None = None,
) -> Outcome:
    """Decode, run and judge one delivery; raises only ``CancelledError``.

    Cancellation (shutdown before a queued plain task started) propagates so the caller can
    requeue the message instead of judging it.
    """
    prepared = prepare(delivery, policy, registry=registry, settings=settings)
    if isinstance(prepared, Outcome):
        return prepared
    task, request = prepared
    try:
        if task.is_coroutine:
            running = call_task(task, request)
        else:
            running = threads.submit(call_task, task, request)
        if task.timeout is None:
            await running
        else:
            await asyncio.wait_for(running, task.timeout)
    except asyncio.CancelledError:
        raise
    except asyncio.TimeoutError:
        error = TaskTimeout(f"task {task.name!r} ran longer than its timeout of {task.timeout:g} s")
        return failure_outcome(delivery, policy, error)
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
    message_id = delivery.message_id or uuid.uuid4().hex  # trace even a message without one
    properties["message_id"] = message_id
    return WireMessage("", target, delivery.body, message_id, properties)
