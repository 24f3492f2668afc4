"""Stopping a worker: in-flight tasks get the grace period to finish, then are requeued.

The worker has stopped consuming and taken back the tasks no thread had started by then;
what remains are running tasks and the settling of failures. A job waits on its running
task, then (a failure) on the task that settles it, so the wait goes on while any is left.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

from .settling import Job, Settler

log = logging.getLogger("mqwire.worker")


async def drain(
    name: str, jobs: Mapping[Job, asyncio.Future[Any]], settler: Settler, grace: float,
    not_started: int,
) -> None:  # fmt: skip
    """Wait up to ``grace`` seconds for ``jobs`` (which the worker empties as they end), then
    cancel the late ones: forced, their messages are left to the closing connection."""
    if not jobs:
        return
    log.info(
        "%s: stopping; %d task(s) in flight, %d not started (requeued), %.0f s grace",
        name, len(jobs) - not_started, not_started, grace,
    )  # fmt: skip
    deadline = time.monotonic() + grace
    while jobs and (left := deadline - time.monotonic()) > 0:
        await asyncio.wait(list(jobs.values()), timeout=left)
    late = list(jobs.values())
    if late:
        log.error("%s: grace period over; requeueing %d message(s)", name, len(late))
        settler.forced = True
        for task in late:
            task.cancel()
        await asyncio.wait(late)
