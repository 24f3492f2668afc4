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

A task with a time limit tells the loop when its thread takes it, and its ``Deadline`` counts
from then: a task waiting for a thread never times out. Past the limit the thread is sent
``TaskTimeout`` (``interrupt``); still busy after the grace, it is abandoned: the future ends
with ``TaskTimeout``, a fresh thread takes its place, and it counts as stuck until it returns
(then it ends, unreported). A future cancelled while queued is never run.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import queue
import threading
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from ..errors import TaskTimeout
from ..interrupt import ThreadInterrupt
from .stuck import StuckTasks
from .time_limits import DEFAULT_TIMEOUT_GRACE, Deadline, TimeLimit

#: A queued task: its future, the call, the lock to release once a thread has it (or None),
#: and its time limit (or None).
_Work = tuple[
    "asyncio.Future[Any]", Callable[..., Any], tuple[Any, ...], "threading.Lock | None",
    "TimeLimit | None",
]  # fmt: skip

#: How long ``submit`` waits at most for an idle pool's thread to take a task (it takes far less).
HANDOVER = 0.001


class _Slot:
    """One thread, and the task it runs (guarded by the pool's lock)."""

    __slots__ = ("abandoned", "future", "thread", "token")

    def __init__(self) -> None:
        self.future: asyncio.Future[Any] | None = None
        self.abandoned = False
        self.token = -1  # its entry in StuckTasks once abandoned
        self.thread: threading.Thread


class TaskThreads:
    """``size`` threads fed from one queue; ``submit`` returns an asyncio future."""

    def __init__(
        self,
        size: int,
        loop: asyncio.AbstractEventLoop | None = None,
        handover: float = HANDOVER,
        *,
        grace: float = DEFAULT_TIMEOUT_GRACE,
        interrupt: ThreadInterrupt | None = None,
        stuck: StuckTasks | None = None,
    ) -> None:
        self._loop = loop or asyncio.get_running_loop()
        self._handover, self._interrupt = handover, interrupt
        #: Seconds an interrupted task gets to end; where abandoned tasks are counted.
        self.grace, self.stuck = grace, stuck or StuckTasks()
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
        self._deadlines: dict[asyncio.Future[Any], tuple[Deadline, TimeLimit]] = {}  # loop only
        self._slots: set[_Slot] = set()  # the threads that take work (abandoned ones do not)
        self._names = itertools.count()
        with self._lock:
            for _ in range(size):
                self._add_thread()

    def submit(
        self, fn: Callable[..., Any], *args: Any, limit: TimeLimit | None = None
    ) -> asyncio.Future[Any]:
        """Queue ``fn(*args)``, limited from when it starts by ``limit``; loop thread only."""
        future: asyncio.Future[Any] = self._loop.create_future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the task threads are shut down")
            self._waiting.add(future)
        self._unsettled += 1
        if self._unsettled > 1:  # busy: the next free thread takes it
            self._work.put((future, fn, args, None, limit))
            return future
        taken = threading.Lock()
        taken.acquire()
        self._work.put((future, fn, args, taken, limit))
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

    def cancel_queued(self, futures: Iterable[asyncio.Future[Any]]) -> int:
        """Cancel those of ``futures`` no thread has started (their channel closed); how many."""
        with self._lock:
            waiting = self._waiting.intersection(futures)
            self._waiting -= waiting
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
            slots = len(self._slots)
        for _ in range(slots):
            self._work.put(None)

    # -- task threads -----------------------------------------------------------------------

    def _add_thread(self) -> None:
        """A new thread in a new slot; with the lock held."""
        slot = _Slot()
        name = f"mqwire-task-{next(self._names)}"
        slot.thread = threading.Thread(target=self._run, args=(slot,), name=name, daemon=True)
        self._slots.add(slot)
        slot.thread.start()

    def _run(self, slot: _Slot) -> None:
        while True:
            work = self._work.get()
            if work is None:
                return
            future, fn, args, taken, limit = work
            with self._lock:
                queued = future in self._waiting  # not taken back by cancel_waiting
                self._waiting.discard(future)
                wanted = queued and not future.cancelled()  # nor cancelled while queued
                if wanted:
                    slot.future = future
            if taken is not None:
                taken.release()  # submit may return: the task is this thread's now
            if not wanted:
                if queued:  # cancelled: still report it, so the loop's count stays right
                    self._report(future, False, None)
                continue
            ok, value = self._call(slot, future, fn, args, limit)
            with self._lock:
                abandoned = slot.abandoned
            if abandoned:  # its future ended long ago; a fresh thread has its slot
                self._call_loop(self._returned, slot)
                return
            self._report(future, ok, value)

    def _call(
        self, slot: _Slot, future: asyncio.Future[Any], fn: Callable[..., Any],
        args: tuple[Any, ...], limit: TimeLimit | None,
    ) -> tuple[bool, Any]:  # fmt: skip
        """``fn(*args)`` as ``(ok, result or error)``; catches a ``TaskTimeout`` sent late."""
        try:
            if limit is not None:
                self._call_loop(self._arm, slot, future, limit)
            try:
                ok, value = True, fn(*args)
            except Exception as exc:
                ok, value = False, exc
            except BaseException as exc:  # SystemExit in a task must not end the worker
                error = RuntimeError(f"the task raised {type(exc).__name__}: {exc}")
                error.__cause__ = exc
                ok, value = False, error
            self._end(slot, limit)
        except TaskTimeout as exc:  # interrupted after ``fn`` returned: timed out all the same
            self._end(slot, limit)
            ok, value = False, exc
        return ok, value

    def _end(self, slot: _Slot, limit: TimeLimit | None) -> None:
        """The task is over: no interrupt may reach this thread from now on."""
        with self._lock:
            slot.future = None
            if limit is not None and self._interrupt is not None:  # only limited ones are sent
                self._interrupt.clear(threading.get_ident())

    def _report(self, future: asyncio.Future[Any], ok: bool, value: Any) -> None:
        self._results.append((future, ok, value))
        if not self._wake_pending:
            self._wake_pending = True
            self._call_loop(self._deliver)

    def _call_loop(self, callback: Callable[..., None], *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            self._loop.call_soon_threadsafe(callback, *args)

    # -- loop thread ------------------------------------------------------------------------

    def _deliver(self) -> None:
        # Reset first: a result appended from now on schedules another call.
        self._wake_pending = False
        results = self._results
        while results:
            future, ok, value = results.popleft()
            self._unsettled -= 1
            limited = self._deadlines.pop(future, None)
            if limited is not None:
                limited[0].cancel()
            if future.done():  # cancelled meanwhile: its result is not wanted
                continue
            if limited is not None and limited[0].expired:
                ok, value = False, limited[1].error()  # whatever it returned, it timed out
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    def _arm(self, slot: _Slot, future: asyncio.Future[Any], limit: TimeLimit) -> None:
        """The thread took a limited task: its deadline counts from now."""
        with self._lock:
            running = slot.future is future
        if running and not future.done():
            interrupt = partial(self._interrupt_slot, slot, future)
            abandon = partial(self._abandon, slot, future)
            deadline = Deadline(self._loop, limit.timeout, self.grace, interrupt, abandon)
            self._deadlines[future] = (deadline, limit)

    def _interrupt_slot(self, slot: _Slot, future: asyncio.Future[Any]) -> None:
        with self._lock:
            if self._interrupt is not None and slot.future is future:
                self._interrupt.raise_in(slot.thread.ident or 0, TaskTimeout)

    def _abandon(self, slot: _Slot, future: asyncio.Future[Any]) -> None:
        """Still running after the grace: give its slot to a fresh thread, end its future."""
        with self._lock:
            if slot.future is not future:  # it ended just now: its result is on its way
                return
            slot.abandoned = True
            self._slots.discard(slot)
            if not self._closed:
                self._add_thread()
        deadline, limit = self._deadlines.pop(future)
        self._unsettled -= 1  # its thread never reports it
        if not future.done():
            future.set_exception(limit.error())
        slot.token = self.stuck.add(limit.stuck(deadline.started))

    def _returned(self, slot: _Slot) -> None:
        """An abandoned thread's task returned at last; the thread has ended."""
        self.stuck.remove(slot.token)
