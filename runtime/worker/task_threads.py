"""The threads that run plain tasks, handing results back to the event loop in batches.

``concurrent.futures`` plus ``asyncio.wrap_future`` costs two futures, a lock dance and one
self-pipe wake-up of the loop per task; profiled, that hand-off was a large share of
``mserve``'s time per message. Here a task is one item on a ``SimpleQueue``, its result one
tuple in a deque, and a finished task wakes the loop only when the loop has no wake-up
pending already, so a busy worker drains many results per wake-up. Futures are created,
completed and cancelled on the loop thread only.

When the pool has nothing else to do (no task queued, running or unreported: a worker
between messages), ``submit`` waits, at most ``handover`` seconds, for a thread to take the
task: the thread wakes to a free GIL instead of finding the loop still holding it and
sleeping again until the loop is idle, a second wake-up on the way from message to task
and a visible part of the latency mserve adds. A busy pool is never waited for: a worker
draining a queue would pay the wake-up on every message instead, and its throughput fell
clearly when an idle thread was enough to wait.
"""

from __future__ import annotations

import asyncio
import collections
import queue
import threading
from collections.abc import Callable
from typing import Any

#: A queued task: its future, the call, and the lock to release once a thread has it (or None).
_Work = tuple["asyncio.Future[Any]", Callable[..., Any], tuple[Any, ...], "threading.Lock | None"]

#: How long ``submit`` waits at most for an idle pool's thread to take a task (it takes far less).
HANDOVER = 0.001


class TaskThreads:
    """``size`` threads fed from one queue; ``submit`` returns an asyncio future."""

    def __init__(
        self, size: int, loop: asyncio.AbstractEventLoop | None = None, handover: float = HANDOVER
    ) -> None:
        self._loop = loop or asyncio.get_running_loop()
        self._handover = handover
        # SimpleQueue (C) wakes a waiting thread faster than a Condition; ``_waiting`` says
        # which queued tasks are still wanted, so shutdown can take them back.
        self._work: queue.SimpleQueue[_Work | None] = queue.SimpleQueue()
        self._waiting: set[asyncio.Future[Any]] = set()
        self._lock = threading.Lock()
        self._results: collections.deque[tuple[asyncio.Future[Any], bool, Any]] = (
            collections.deque()
        )
        self._wake_pending = False
        self._closed = False
        self._unsettled = 0  # submitted, and neither reported back nor taken back: loop only
        self._threads = [
            threading.Thread(target=self._run, name=f"mqwire-task-{n}", daemon=True)
            for n in range(size)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        """Queue ``fn(*args)``; loop thread only."""
        future: asyncio.Future[Any] = self._loop.create_future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the task threads are shut down")
            self._waiting.add(future)
        self._unsettled += 1
        if self._unsettled > 1:  # busy: the next free thread takes it
            self._work.put((future, fn, args, None))
            return future
        taken = threading.Lock()
        taken.acquire()
        self._work.put((future, fn, args, taken))
        taken.acquire(timeout=self._handover)  # the GIL is free while the thread wakes
        return future

    def cancel_waiting(self) -> int:
        """Cancel the tasks no thread has started; how many. Loop thread only."""
        with self._lock:
            waiting, self._waiting = self._waiting, set()
        self._unsettled -= len(waiting)  # no thread reports these
        for future in waiting:
            future.cancel()
        return len(waiting)

    def shutdown(self) -> None:
        """Cancel what has not started and let the threads end after their current task.

        The threads are daemons: one stuck in a task does not keep the process alive.
        """
        self.cancel_waiting()
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for _ in self._threads:
            self._work.put(None)

    # -- task threads -----------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            work = self._work.get()
            if work is None:
                return
            future, fn, args, taken = work
            with self._lock:
                wanted = future in self._waiting  # not taken back by cancel_waiting
                if wanted:
                    self._waiting.remove(future)
            if taken is not None:
                taken.release()  # submit may return: the task is this thread's now
            if not wanted:
                continue
            try:
                self._results.append((future, True, fn(*args)))
            except Exception as exc:
                self._results.append((future, False, exc))
            except BaseException as exc:  # SystemExit in a task must not end the worker
                error = RuntimeError(f"the task raised {type(exc).__name__}: {exc}")
                error.__cause__ = exc
                self._results.append((future, False, error))
            if not self._wake_pending:
                self._wake_pending = True
                try:
                    self._loop.call_soon_threadsafe(self._deliver)
                except RuntimeError:  # the loop is closed: nobody waits for the result
                    return

    # -- loop thread ------------------------------------------------------------------------

    def _deliver(self) -> None:
        # Reset first: a result appended from now on schedules another call.
        self._wake_pending = False
        results = self._results
        while results:
            future, ok, value = results.popleft()
            self._unsettled -= 1
            if future.done():  # cancelled meanwhile (timeout): its result is not wanted
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
