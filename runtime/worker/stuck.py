"""Tasks abandoned past their timeout, and what they mean for the process's health.

A task that overran its ``timeout:`` and did not stop within the grace (a thread blocked in
C, a coroutine that ignores cancellation) is abandoned: its message is settled as a
``TaskTimeout`` and its thread's slot goes to a fresh thread, but the thread (or coroutine)
still runs. A few of them are survivable; at ``--max-stuck`` the process is no longer healthy:
``/healthz`` answers 503 naming them and the workers stop, so a supervisor starts a clean
process. One registry per process, shared by its workers; loop thread only.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable
from typing import NamedTuple

log = logging.getLogger("mqwire.worker")

#: How many abandoned tasks a process survives by default (``mserve --max-stuck``).
DEFAULT_MAX_STUCK = 4


class StuckTask(NamedTuple):
    """What an abandoned task was doing, for the log and ``/healthz``."""

    task: str
    message_id: str
    timeout: float
    since: float  #: ``time.monotonic()`` when it started


class StuckTasks:
    """The abandoned tasks still running; listeners hear of every change."""

    def __init__(self, limit: int = DEFAULT_MAX_STUCK, clock: Callable[[], float] = time.monotonic):
        if limit < 1:
            raise ValueError(f"the stuck-task limit must be at least 1, got {limit}")
        self.limit, self._clock = limit, clock
        self._stuck: dict[int, StuckTask] = {}
        self._tokens = itertools.count()
        self._listeners: list[Callable[[], None]] = []

    @property
    def count(self) -> int:
        return len(self._stuck)

    @property
    def full(self) -> bool:
        """As many as ``limit`` are stuck: the process should be replaced."""
        return len(self._stuck) >= self.limit

    def subscribe(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def add(self, stuck: StuckTask) -> int:
        """Count an abandoned task; the token to ``remove`` it with once it ends."""
        token = next(self._tokens)
        self._stuck[token] = stuck
        log.warning(
            "abandoned task %r message_id=%s: still running %.1f s after it started "
            "(timeout %g s); %d of --max-stuck %d stuck",
            stuck.task, stuck.message_id or "-", self._clock() - stuck.since, stuck.timeout,
            len(self._stuck), self.limit,
        )  # fmt: skip
        self._changed()
        return token

    def remove(self, token: int) -> None:
        """The abandoned task ended after all (its result was ignored)."""
        stuck = self._stuck.pop(token, None)
        if stuck is not None:
            log.info("abandoned task %r message_id=%s ended", stuck.task, stuck.message_id or "-")
            self._changed()

    def health(self) -> tuple[bool, str]:
        """``/healthz``: healthy below the limit; the text names each stuck task."""
        now = self._clock()
        lines = [
            f"stuck: task {s.task!r} message_id={s.message_id or '-'} "
            f"for {now - s.since - s.timeout:.1f} s past its timeout of {s.timeout:g} s"
            for s in self._stuck.values()
        ]
        if not self.full:
            return True, "\n".join(["ok", *lines])
        head = f"{len(lines)} stuck task(s), --max-stuck {self.limit}: restart this process"
        return False, "\n".join([head, *lines])

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()
