"""A task's ``timeout:``, counted from the moment it starts, on the event loop.

A message waiting for a thread has not started, so it cannot overrun. Once started, a task
past its limit is interrupted (a coroutine cancelled, a thread sent ``TaskTimeout``); one that
has not ended ``grace`` seconds later is abandoned: its message is settled as a
``TaskTimeout`` without it, and it is counted in ``StuckTasks`` until it ends by itself.
Coroutines are limited here; plain tasks by ``TaskThreads`` with the same ``Deadline``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any, NamedTuple

from ..dispatch import DEFAULT_TIMEOUT_GRACE, overrun
from ..errors import TaskTimeout
from .stuck import StuckTask, StuckTasks

__all__ = ["DEFAULT_TIMEOUT_GRACE", "Deadline", "TimeLimit", "start_limited"]


class TimeLimit(NamedTuple):
    """One task's limit, and what to call it in the log and ``/healthz`` if it gets stuck."""

    timeout: float
    task: str
    message_id: str

    def error(self) -> TaskTimeout:
        return overrun(self.task, self.timeout)

    def stuck(self, since: float) -> StuckTask:
        return StuckTask(self.task, self.message_id, self.timeout, since)


class Deadline:
    """Calls ``interrupt`` at the limit and ``abandon`` ``grace`` seconds later; loop only."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        timeout: float,
        grace: float,
        interrupt: Callable[[], Any],
        abandon: Callable[[], Any],
    ) -> None:
        self.started = time.monotonic()
        self.expired = False  #: past the limit: whatever the task does now, it timed out
        self._loop, self._grace = loop, grace
        self._interrupt, self._abandon = interrupt, abandon
        self._handle: asyncio.TimerHandle | None = loop.call_later(timeout, self._expire)

    def cancel(self) -> None:
        """The task ended: nothing more to do."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _expire(self) -> None:
        self.expired = True
        self._handle = self._loop.call_later(self._grace, self._give_up)
        self._interrupt()

    def _give_up(self) -> None:
        self._handle = None
        self._abandon()


def start_limited(
    coro: Coroutine[Any, Any, Any],
    limit: TimeLimit,
    grace: float,
    stuck: StuckTasks,
    start_task: Callable[[Coroutine[Any, Any, Any]], asyncio.Task[Any]],
) -> asyncio.Future[Any]:
    """Run ``coro`` as a task under ``limit``; the future of its outcome.

    The future ends with ``TaskTimeout`` once the coroutine overran and either ended or was
    abandoned (it ignored its cancellation for ``grace`` seconds). Cancelling the future
    cancels the coroutine.
    """
    loop = asyncio.get_running_loop()
    outcome: asyncio.Future[Any] = loop.create_future()
    tokens: list[int] = []

    async def run() -> None:
        task = asyncio.current_task()  # not start_task's result: on 3.12 this runs inside it
        assert task is not None
        started = time.monotonic()

        def abandon() -> None:
            if not outcome.done():
                outcome.set_exception(limit.error())
                tokens.append(stuck.add(limit.stuck(started)))

        deadline = Deadline(loop, limit.timeout, grace, task.cancel, abandon)
        try:
            value = await coro
        except asyncio.CancelledError as exc:
            _resolve(outcome, deadline, limit, False, exc)
            if not deadline.expired:
                raise
        except Exception as exc:
            _resolve(outcome, deadline, limit, False, exc)
        else:
            _resolve(outcome, deadline, limit, True, value)
        finally:
            deadline.cancel()
            for token in tokens:
                stuck.remove(token)

    task = start_task(run())
    outcome.add_done_callback(lambda f: task.cancel() if f.cancelled() else None)
    return outcome


def _resolve(
    outcome: asyncio.Future[Any], deadline: Deadline, limit: TimeLimit, ok: bool, value: Any
) -> None:
    if outcome.done():  # abandoned already, or cancelled by a forced stop
        return
    if deadline.expired:
        outcome.set_exception(limit.error())
    elif ok:
        outcome.set_result(value)
    elif isinstance(value, asyncio.CancelledError):
        outcome.cancel()
    else:
        outcome.set_exception(value)
