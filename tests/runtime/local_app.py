"""The task of the local transport tests: it does what its message asks, and logs each step."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from mqwire.runtime import MessageRequest

#: ("start" or "end", task name, message id field, attempt) per step, in run order.
LOG: list[tuple[str, str, Any, int]] = []


def work(context: Any, request: MessageRequest) -> None:
    """Publish each ``then`` item ``[routing key, body]`` (or ``[.., delay]``), then fail while
    attempt <= ``fail``."""
    body = request.json if isinstance(request.json, dict) else {}
    step = (request.task_name, body.get("id"), request.attempt)
    LOG.append(("start", *step))
    for routing_key, follow_up, *delay in body.get("then", []):  # [key, body, delay?]
        publisher = request.registry.publisher("jobs")
        publisher.publish(body=follow_up, routing_key=routing_key, delay=(delay or [None])[0])
    LOG.append(("end", *step))
    if request.attempt <= body.get("fail", 0):
        raise ValueError(f"{body.get('id')} failed on attempt {request.attempt}")


async def work_async(context: Any, request: MessageRequest) -> None:
    """``work`` as a coroutine: the local transport must await it, not drop it."""
    await asyncio.sleep(0)
    work(context, request)


#: Set by the tests when they end, so that a task no interrupt stopped ends too.
RELEASE = threading.Event()


def overrun(context: Any, request: MessageRequest) -> None:
    """Does not end by itself within its ``timeout:``: it waits for ``RELEASE`` in short waits,
    so the ``TaskTimeout`` sent into its thread is raised within one of them. Logs like
    ``work``; its ``then`` follow-ups are published first."""
    body = request.json if isinstance(request.json, dict) else {}
    step = (request.task_name, body.get("id"), request.attempt)
    LOG.append(("start", *step))
    for routing_key, follow_up in body.get("then", []):
        request.registry.publisher("jobs").publish(body=follow_up, routing_key=routing_key)
    for _ in range(500):  # 5 s at most: without a limit enforced, it ends and is acked
        if RELEASE.wait(0.01):
            break
    LOG.append(("end", *step))


async def overrun_async(context: Any, request: MessageRequest) -> None:
    """``overrun`` as a coroutine: its thread's event loop is where the interrupt lands."""
    LOG.append(("start", request.task_name, request.params.get("id"), request.attempt))
    for _ in range(500):
        if RELEASE.is_set():
            break
        await asyncio.sleep(0.01)
    LOG.append(("end", request.task_name, request.params.get("id"), request.attempt))
