"""When a schedule fires next, and which missed run a new scheduler owes: pure, no clock.

Times are POSIX timestamps (float seconds). ``every:`` schedules keep their phase: runs fall
on ``last + k * every``. ``cron:`` schedules are read in their time zone by croniter, daylight
saving included. A scheduler that finds runs missed (none ran, or it fell behind) fires one of
them at most, the latest, never one per missed period.
"""

from __future__ import annotations

import datetime
import math
from typing import Any

from mqwire.topology.model import Schedule


def _cron(schedule: Schedule, start: float) -> Any:
    import zoneinfo

    from croniter import croniter  # type: ignore[import-untyped]  # only with --schedules

    zone = zoneinfo.ZoneInfo(schedule.timezone)
    return croniter(schedule.cron, datetime.datetime.fromtimestamp(start, zone))


def next_after(schedule: Schedule, when: float) -> float:
    """The first run strictly after ``when`` (for ``every:``, counted from ``when``)."""
    if schedule.every is not None:
        return when + schedule.every
    return float(_cron(schedule, when).get_next(float))


def latest_due(schedule: Schedule, last: float, now: float) -> float | None:
    """The latest run after ``last`` and at or before ``now``; None when none is due yet."""
    if schedule.every is not None:
        periods = math.floor((now - last) / schedule.every)
        return last + periods * schedule.every if periods >= 1 else None
    if next_after(schedule, last) > now:
        return None
    previous = float(_cron(schedule, now + 0.001).get_prev(float))  # ``now`` itself counts
    return previous if previous > last else None


def first_due(schedule: Schedule, last: float | None, now: float) -> tuple[float, bool]:
    """Where a scheduler taking over starts: (when, whether it is a missed run owed now).

    ``last``: the last run any scheduler fired (None: never). A missed run is owed once, at
    ``now``, when ``missed: fire``; otherwise the next run after ``now`` (keeping an
    ``every:`` schedule's phase).
    """
    if last is None:
        return next_after(schedule, now), False
    owed = latest_due(schedule, last, now)
    if owed is None:
        return next_after(schedule, last), False
    if schedule.missed == "fire":
        return owed, True
    return following(schedule, owed, now), False


def following(schedule: Schedule, fired: float, now: float) -> float:
    """The run after ``fired`` that is still ahead of ``now`` (a slow run skips, never piles)."""
    due = next_after(schedule, fired)
    if due > now:
        return due
    latest = latest_due(schedule, fired, now)
    return next_after(schedule, latest if latest is not None else now)
