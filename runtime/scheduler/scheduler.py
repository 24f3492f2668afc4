"""The scheduler loop: wait for the lock, then fire each schedule when it is due.

One scheduler fires at a time across a fleet: the lock is held on the broker (``ports``; the
pika edge is ``runtime/amqp/schedule_lock.py``), and the last run of every schedule is kept
there too, so a scheduler taking over knows what was missed. A run counts as fired once its
publish is confirmed; a failed publish is retried after ``retry_after`` seconds and never
counted twice. Each run's message id names the schedule and the instant it was due, so a run
fired twice (a holder that died between its publish and its record) carries one id.
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Protocol

from mqwire.topology.model import Schedule

from ..errors import BrokerError, PublishError
from .timing import first_due, following

log = logging.getLogger("mqwire.scheduler")

#: Seconds between attempts to take the lock while another scheduler holds it.
POLL = 2.0
#: Seconds before a run whose publish failed is tried again.
RETRY_AFTER = 5.0
#: Longest wait between looks at the lock's connection (heartbeats, a lost lock, a stop).
TICK = 1.0


class Lock(Protocol):
    """The broker-side lock and the record of runs (``schedule_lock.BrokerLock``)."""

    def try_acquire(self) -> bool: ...
    def wait(self, seconds: float) -> bool: ...  # False: the lock (its connection) is lost
    def load_state(self) -> dict[str, float]: ...
    def save_state(self, state: Mapping[str, float]) -> None: ...
    def release(self) -> None: ...


#: Publishes one run of a schedule due at the given instant; raises PublishError.
Fire = Callable[[Schedule, float, str], None]


def run_id(schedule: Schedule, due: float) -> str:
    """``schedule:release_carts:2026-12-04T03:00:00.000Z``: the same for every firing of a run."""
    instant = datetime.datetime.fromtimestamp(due, datetime.UTC)
    return f"schedule:{schedule.name}:{instant.isoformat(timespec='milliseconds')[:-6]}Z"


class Scheduler:
    """Fires ``schedules`` while it holds ``lock``; ``run`` returns once ``stop`` is set."""

    def __init__(
        self,
        schedules: Mapping[str, Schedule],
        lock: Lock,
        fire: Fire,
        *,
        clock: Callable[[], float] = time.time,
        poll: float = POLL,
        retry_after: float = RETRY_AFTER,
    ) -> None:
        self.schedules = dict(sorted(schedules.items()))
        self.lock, self.fire, self.clock = lock, fire, clock
        self.poll, self.retry_after = poll, retry_after
        self.leading = threading.Event()  #: set while this scheduler holds the lock

    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                if self.lock.try_acquire():
                    log.info("scheduler: holding the lock; firing %d schedule(s)",
                             len(self.schedules))  # fmt: skip
                    self.leading.set()
                    self._lead(stop)
                    self.leading.clear()
                    if not stop.is_set():
                        log.warning("scheduler: lost the lock; waiting to take it again")
                elif not self.lock.wait(self.poll):
                    stop.wait(self.poll)  # no connection: try again later
        finally:
            self.leading.clear()
            self.lock.release()

    def _lead(self, stop: threading.Event) -> None:
        try:
            state = self.lock.load_state()
        except BrokerError as exc:
            log.warning("scheduler: cannot read the last runs: %s", exc)
            return
        now = self.clock()
        due: dict[str, float] = {}  # the run each schedule fires next
        at: dict[str, float] = {}  # when to try it (later than due after a failed publish)
        for name, schedule in self.schedules.items():
            due[name], owed = first_due(schedule, state.get(name), now)
            at[name] = now if owed else due[name]
            if owed:
                log.info("scheduler: %s missed its run due at %s; firing it once", name,
                         run_id(schedule, due[name]).rsplit(":", 1)[-1])  # fmt: skip
        while not stop.is_set():
            name = min(at, key=lambda n: (at[n], n))
            wait = at[name] - self.clock()
            if wait > 0:
                if not self.lock.wait(min(wait, TICK)):
                    return
                continue
            schedule = self.schedules[name]
            try:
                self.fire(schedule, due[name], run_id(schedule, due[name]))
            except PublishError as exc:
                log.error("scheduler: %s: could not publish (retrying in %gs): %s",
                          name, self.retry_after, exc)  # fmt: skip
                at[name] = self.clock() + self.retry_after
                continue
            state[name] = due[name]
            try:
                self.lock.save_state(state)
            except BrokerError as exc:
                log.warning("scheduler: cannot record the run of %s: %s", name, exc)
                return
            due[name] = at[name] = following(schedule, due[name], self.clock())
