"""Tasks served by ``mserve`` in the worker tests; each records what it ran to a file.

The worker is a separate process, so side effects go to the file named by ``MSERVE_TEST_LOG``:
one line per event, ``event queue id pid``, written with one ``write`` on an ``O_APPEND`` file,
so a ``kill -9`` never leaves half a line.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any


def _note(event: str, request: Any) -> None:
    line = f"{event} {request.queue} {request.params.get('id')} {os.getpid()}\n"
    fd = os.open(os.environ["MSERVE_TEST_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def record(context: Any, request: Any) -> None:
    """Records the message, after ``seconds`` of work when the body asks for it.

    A body with ``pad`` must have kept all of it (``pad_length`` characters) on the way.
    """
    if len(request.params.get("pad", "")) != request.params.get("pad_length", 0):
        raise ValueError(f"message {request.params.get('id')} lost part of its body")
    time.sleep(float(request.params.get("seconds", 0)))
    _note("done", request)


async def record_async(context: Any, request: Any) -> None:
    await asyncio.sleep(0)
    _note("done", request)


def slow(context: Any, request: Any) -> None:
    """Works for ``seconds`` (the task's own duration, not a test's synchronisation)."""
    _note("started", request)
    time.sleep(float(request.params.get("seconds", 1)))
    _note("done", request)


def fail_when_bad(context: Any, request: Any) -> None:
    if request.params.get("bad"):
        _note("failed", request)
        raise ValueError(f"refusing message {request.params.get('id')}")
    _note("done", request)
