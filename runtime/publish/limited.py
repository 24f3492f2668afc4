"""A task's ``timeout:`` on the local transport: run it in a helper thread and stop waiting at
the limit, as ``mserve`` does.

Only a task with a ``timeout:`` leaves the caller's thread: it runs in a thread of its own, in
a copy of the caller's ``contextvars`` context, and the caller waits at most ``timeout``
seconds for it. Past the limit the thread is sent ``TaskTimeout`` (CPython's async exception,
``runtime.interrupt``, as the worker's threads are) and given ``grace`` seconds to end; either
way the run is a ``TaskTimeout`` failure (``dispatch.overrun``) whatever the task does
afterwards, which ``failure_outcome`` judges: retried by the queue's delays, then
dead-lettered, exactly as on a worker. A thread still busy after the grace is abandoned
(a daemon thread: it ends when the task does, or with the process).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextvars import copy_context
from typing import Any

from ..dispatch import overrun
from ..errors import TaskTimeout
from ..interrupt import ThreadInterrupt, thread_interrupt


class _Run:
    """One limited call in its thread; the lock keeps an interrupt from landing after it."""

    def __init__(self, fn: Callable[[], Any], interrupt: ThreadInterrupt | None) -> None:
        self.fn, self.interrupt = fn, interrupt
        self.lock = threading.Lock()
        self.running = True
        self.error: BaseException | None = None
        self.thread = threading.Thread(
            target=copy_context().run, args=(self.main,), name="mqwire-local-task", daemon=True
        )

    def main(self) -> None:
        try:
            try:
                self.fn()
            except BaseException as exc:  # the caller judges it, as the worker's pool does
                self.error = exc
            self.end()
        except TaskTimeout as exc:  # sent once the task had returned: timed out all the same
            self.end()
            self.error = exc

    def end(self) -> None:
        with self.lock:
            self.running = False
            if self.interrupt is not None:  # drop an interrupt sent but not yet raised
                self.interrupt.clear(threading.get_ident())

    def stop(self) -> None:
        with self.lock:
            if self.running and self.interrupt is not None and self.thread.ident is not None:
                self.interrupt.raise_in(self.thread.ident, TaskTimeout)


def call_within(
    fn: Callable[[], Any],
    timeout: float,
    grace: float,
    task: str,
    *,
    interrupt: ThreadInterrupt | None = None,
) -> None:
    """Call ``fn()`` and return once it did, or raise ``TaskTimeout`` once it ran ``timeout``
    seconds (then interrupted, and waited for at most ``grace`` more seconds).

    ``interrupt``: how to stop the thread (default: CPython's async exception, when
    available). Raises whatever ``fn`` raised when it ended in time.
    """
    run = _Run(fn, interrupt if interrupt is not None else thread_interrupt())
    run.thread.start()
    run.thread.join(timeout)  # the thread's own end, not an Event it could be interrupted in
    if run.thread.is_alive():
        run.stop()
        run.thread.join(grace)
        raise overrun(task, timeout)
    if run.error is not None:
        raise run.error
