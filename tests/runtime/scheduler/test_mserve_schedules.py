"""``mserve --schedules`` on the real broker: two schedulers, one lock, a run per period.

Two workers both consume; only the one holding the lock fires. Killing it (``kill -9``) lets
the other take over within its poll interval, and runs go on: each period's run carries an id
naming its due instant, so a run fired twice (the holder died between its publish and its
record) shows as a repeated id, which the figures report.
"""

from __future__ import annotations

import datetime
import itertools
import signal
import time
from collections.abc import Callable
from pathlib import Path

import topology_setup as wiring
from mserve_harness import Mserve, records, wait_until

from mqwire.runtime.errors import ExitCode

TOPOLOGY = """\
version: 1
connections:
  main: {url: "${AMQP_URL}", heartbeat: 30}
publisher_consumers:
  work: {prefix: work.mq, transport: amqp, connection: main}
  cron: {prefix: cron.mq, transport: amqp, connection: main}
queues:
  ticks: {consumer: work, prefetch: 10}
tasks:
  record_run: {task: "mserve_app:record_run", queue: ticks}
schedules:
  tick: {task: record_run, every: 1s}
"""
HOLDING = "holding the lock"


def instants(ids: list[str]) -> list[float]:
    """The due instants the run ids name (``schedule:tick:<ISO time>Z``)."""
    return [
        datetime.datetime.fromisoformat(i.split(":", 2)[2].replace("Z", "+00:00")).timestamp()
        for i in ids
    ]


def test_two_schedulers_fire_each_run_once_and_the_second_takes_over(
    tmp_path: Path, fresh_vhost_url: str, mserve: Callable[..., Mserve]
) -> None:
    ini, log = wiring.compile_into(tmp_path, TOPOLOGY), tmp_path / "records.txt"
    first = mserve(ini, fresh_vhost_url, "--schedules", wait=False)
    wait_until(lambda: len(records(log)) >= 2, what="the first runs")
    second = mserve(ini, fresh_vhost_url, "--schedules", wait=False)
    wait_until(lambda: len(records(log)) >= 5, what="runs with two schedulers")
    assert HOLDING in first.output() and HOLDING not in second.output()
    before = records(log)
    assert len(set(before)) == len(before), f"a run fired twice: {before}"
    due = sorted(instants(before))
    assert all(later - earlier >= 0.999 for earlier, later in itertools.pairwise(due))

    first.signal(signal.SIGKILL)
    killed = time.monotonic()
    wait_until(lambda: HOLDING in second.output(), what="the second scheduler taking over")
    takeover = time.monotonic() - killed
    count = len(records(log))
    wait_until(lambda: len(records(log)) >= count + 3, what="runs after the kill")
    second.signal(signal.SIGTERM)
    assert second.wait() == ExitCode.OK
    runs = records(log)
    repeats = len(runs) - len(set(runs))
    print(f"\nschedules: {len(runs)} runs, {repeats} repeated, takeover {takeover:.1f} s")
    assert repeats <= 1  # only the run the killed holder may have published unrecorded
    assert takeover < 10


def test_the_scheduler_alone_when_nothing_is_selected_to_consume(
    tmp_path: Path, fresh_vhost_url: str, mserve: Callable[..., Mserve]
) -> None:
    ini = wiring.compile_into(tmp_path, TOPOLOGY)
    mserve(ini, fresh_vhost_url, "--queue", "ticks", wait=False)
    scheduler = mserve(ini, fresh_vhost_url, "cron", "--schedules", wait=False)  # no tasks
    wait_until(lambda: len(records(tmp_path / "records.txt")) >= 2, what="runs it fired")
    assert HOLDING in scheduler.output()
    scheduler.signal(signal.SIGTERM)
    assert scheduler.wait() == ExitCode.OK


def test_schedules_without_a_schedules_section_is_a_configuration_error(
    tmp_path: Path, fresh_vhost_url: str, mserve: Callable[..., Mserve]
) -> None:
    ini = wiring.compile_into(tmp_path, TOPOLOGY.split("schedules:")[0])
    worker = mserve(ini, fresh_vhost_url, "--schedules", wait=False)
    assert worker.wait() == ExitCode.CONFIG
    assert "the topology has no schedules: section" in worker.output()
