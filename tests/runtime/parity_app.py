"""Tasks of the transport contract suite (``tests/runtime/contract/``), the same on both sides.

In-process (the local transport) or in ``mserve``, every run appends one JSON line to the
file ``PARITY_LOG`` names (one ``write`` on an ``O_APPEND`` file): what the task received.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from typing import Any

from mqwire.runtime import MessageRequest


def _record(request: MessageRequest) -> None:
    line = json.dumps(
        {
            "task": request.task_name,
            "queue": request.queue,
            "routing_key": request.routing_key,
            "attempt": request.attempt,
            "params": dict(request.params),
            "json": request.json,
        },
        sort_keys=True,
    )
    fd = os.open(os.environ["PARITY_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, f"{line}\n".encode())
    finally:
        os.close(fd)


def record(context: Any, request: MessageRequest) -> None:
    _record(request)


def flaky(context: Any, request: MessageRequest) -> None:
    """Fails while the attempt is at most the body's ``fail``."""
    _record(request)
    if request.attempt <= int(request.params.get("fail", 0)):
        raise ValueError(f"{request.params.get('id')} failed on attempt {request.attempt}")


#: Never set: an overrunning task is ended by the ``TaskTimeout`` sent into its thread.
_NEVER = threading.Event()


def overrun(context: Any, request: MessageRequest) -> None:
    """Runs past any ``timeout:`` up to 5 s, in short waits, so the interrupt lands within
    10 ms; a transport that enforces no limit sees it end (and acks it) after 5 s."""
    _record(request)
    for _ in range(500):
        if _NEVER.wait(0.01):
            break


def chain(context: Any, request: MessageRequest) -> None:
    """Publishes ``steps`` follow-ups (``orders.followup``) from inside the task."""
    _record(request)
    publisher = request.registry.publisher("jobs")
    for step in range(int(request.params["steps"])):
        publisher.publish(body={"id": step}, routing_key="orders.followup")


async def overrun_async(context: Any, request: MessageRequest) -> None:
    """``overrun`` as a coroutine: cancelled by ``mserve``, interrupted in its thread locally."""
    _record(request)
    for _ in range(500):
        await asyncio.sleep(0.01)


async def chain_async(context: Any, request: MessageRequest) -> None:
    """``chain`` as a coroutine, awaiting each follow-up's confirm (``apublish``)."""
    _record(request)
    publisher = request.registry.publisher("jobs")
    for step in range(int(request.params["steps"])):
        await publisher.apublish(body={"id": step}, routing_key="orders.followup")
