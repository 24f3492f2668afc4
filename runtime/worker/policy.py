"""The worker's policies, kept free of pika: how long to wait between attempts, when to give up."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple


class WorkerOptions(NamedTuple):
    concurrency: int = 1  #: plain tasks run at once (threads); coroutines are bounded by prefetch
    grace: float = 30.0  #: seconds in-flight tasks get to finish after SIGTERM
    max_unreachable: float = 300.0  #: give up (exit 3) after the broker is down this long
    backoff_cap: float = 30.0  #: longest wait between reconnect attempts
    #: waits between attempts at publishing a retry or dead-letter copy; after the last one
    #: the input is parked (or rejected to the queue's own dead-letter exchange)
    copy_backoff: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0)
    copy_jitter: float = 0.5  #: each of those waits is scaled by [1 - jitter, 1)
    ledger_size: int = 10_000  #: decided outcomes remembered, so a redelivery is not run again
    #: immediate requeues of one message after an error of mqwire's own; then dead-lettered
    max_requeues: int = 3
    timeout_grace: float = 5.0  #: seconds a task past its timeout gets to end before abandoned
    max_stuck: int = 4  #: abandoned tasks still running at which the process stops (exit 6)
    interrupt: bool = True  #: raise ``TaskTimeout`` in an overrunning plain task's thread


class RestartLimits(NamedTuple):
    """When ``mserve --processes`` gives up restarting its children (``restarts.py``); here,
    not there, so that a single worker's ``--help`` defaults need none of the group's code."""

    max_deaths: int = 5  #: deaths within ``window`` at which the group stops (CRASH_LOOP)
    window: float = 60.0  #: seconds over which deaths are counted, group-wide
    backoff_cap: float = 30.0  #: longest wait before a slot's next start


def backoff(cap: float, rng: Callable[[], float] = random.random) -> Iterator[float]:
    """Exponential waits with jitter: 0.5 s, 1 s, 2 s ... up to ``cap``, each scaled by [0.5, 1)

    so that many workers restarted together do not reconnect in lockstep.
    """
    base = 0.5
    while True:
        yield base * (0.5 + rng() / 2)
        base = min(cap, base * 2)


def jittered(
    waits: Sequence[float], jitter: float, rng: Callable[[], float] = random.random
) -> Iterator[float]:
    """Each of ``waits`` scaled by [1 - jitter, 1): workers that fail together retry apart."""
    for wait in waits:
        yield wait * (1 - jitter * rng())
