"""The worker's policies, kept free of pika: how long to wait between attempts, when to give up."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class WorkerOptions:
    concurrency: int = 1  #: plain tasks run at once (threads); coroutines are bounded by prefetch
    grace: float = 30.0  #: seconds in-flight tasks get to finish after SIGTERM
    max_unreachable: float = 300.0  #: give up (exit 3) after the broker is down this long
    backoff_cap: float = 30.0  #: longest wait between reconnect attempts


def backoff(cap: float, rng: Callable[[], float] = random.random) -> Iterator[float]:
    """Exponential waits with jitter: 0.5 s, 1 s, 2 s ... up to ``cap``, each scaled by [0.5, 1)

    so that many workers restarted together do not reconnect in lockstep.
    """
    base = 0.5
    while True:
        yield base * (0.5 + rng() / 2)
        base = min(cap, base * 2)
