"""A process group's restart decisions, pure: when a dead child is replaced, when the group stops.

``mserve --processes N`` (``supervisor.py``) asks ``Restarts.died`` each time a child ends while
the group is running, and ``group_exit_code`` for the group's code once every child ended. Time
and randomness come in as arguments, so the tests drive them with plain values.
"""

from __future__ import annotations

import random
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from ..errors import ExitCode
from .policy import RestartLimits, backoff

#: Codes no restart can fix: every child would end the same way, so the group stops with it.
FATAL = frozenset({ExitCode.CONFIG, ExitCode.TOPOLOGY_MISMATCH})


@dataclass(frozen=True)
class Restart:
    """Start the slot's child again after ``delay`` seconds."""

    delay: float


@dataclass(frozen=True)
class StopGroup:
    """Stop every other child (gracefully) and exit with ``code``; ``reason`` is for the log."""

    code: ExitCode
    reason: str


def describe(returncode: int) -> str:
    """``exit 3 (UNREACHABLE)`` or ``killed by SIGKILL``: a child's end, for the log."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    try:
        return f"exit {returncode} ({ExitCode(returncode).name})"
    except ValueError:
        return f"exit {returncode}"


class Restarts:
    """Deaths of a group's children, counted over a sliding window; one backoff per slot.

    A slot whose child ran at least ``window`` seconds before it died starts its backoff over
    (0.5 s), so one crash a day never waits 30 s.
    """

    def __init__(self, limits: RestartLimits, rng: Callable[[], float] = random.random) -> None:
        self.limits = limits
        self._rng = rng
        self._deaths: deque[float] = deque()
        self._started: dict[int, float] = {}
        self._waits: dict[int, Iterator[float]] = {}

    def started(self, slot: int, now: float) -> None:
        """The slot's child was (re)started at ``now``."""
        self._started[slot] = now

    def died(self, slot: int, returncode: int, now: float) -> Restart | StopGroup:
        """The slot's child ended with ``returncode`` (negative: a signal) while the group ran."""
        if returncode in FATAL:
            code = ExitCode(returncode)
            return StopGroup(
                code, f"a child exited with {describe(returncode)}: restarts won't help"
            )
        self._deaths.append(now)
        while self._deaths and self._deaths[0] <= now - self.limits.window:
            self._deaths.popleft()
        if len(self._deaths) >= self.limits.max_deaths:
            reason = (
                f"{len(self._deaths)} children died within {self.limits.window:g} s "
                f"(--max-deaths {self.limits.max_deaths})"
            )
            return StopGroup(ExitCode.CRASH_LOOP, reason)
        if slot not in self._waits or now - self._started.get(slot, now) >= self.limits.window:
            self._waits[slot] = backoff(self.limits.backoff_cap, self._rng)
        return Restart(next(self._waits[slot]))


def group_exit_code(returncodes: Iterable[int], decided: ExitCode | None = None) -> int:
    """The group's code: the worst (highest) of its children's and of the one it decided.

    A child ended by a signal (the supervisor's SIGKILL after ``--grace``) counts as a forced
    stop: its in-flight messages went back to the broker.
    """
    codes = [ExitCode.FORCED_STOP if code < 0 else code for code in returncodes]
    if decided is not None:
        codes.append(decided)
    return max(codes, default=ExitCode.OK)
