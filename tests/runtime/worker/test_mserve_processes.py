"""``mserve --processes N`` against the real broker: a supervisor and its worker processes.

Every test runs the group as a real process (the plugin's ``mqwire_worker``), with ``--http``
on a free port: the group's ``/healthz`` names each child and its pid, ``/readyz`` is 200 once
every child consumes, ``/metrics`` adds up every child's counters. The tasks record their pid,
so a test sees which child did what.
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from mserve_harness import QUEUES, Mserve, drained, events, publish_ids, records, wait_until
from prometheus_client.parser import text_string_to_metric_families

from mqwire.runtime import Registry
from mqwire.runtime.errors import ExitCode

pytestmark = pytest.mark.broker

_CHILD = re.compile(r"child (\d+) \(pid (\d+)\): ok")


def children(group: Mserve) -> dict[int, int]:
    """Slot -> pid of every child answering ``/healthz`` now."""
    status, text = group.http_get("/healthz")
    assert status == 200, text
    return {int(slot): int(pid) for slot, pid in _CHILD.findall(text)}


def processed(group: Mserve, queue: str) -> float:
    """The group's ``mqwire_messages_processed_total`` for ``queue``, over every task."""
    status, text = group.http_get("/metrics")
    assert status == 200, text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "mqwire_messages_processed_total" and sample.labels["queue"] == queue
    )


def test_a_killed_child_is_replaced_and_no_message_is_lost(
    setup: tuple[Path, Registry], start: Callable[..., Mserve], fresh_vhost_url: str, tmp_path: Path
) -> None:
    group = start("--processes", "2")
    first = wait_until(lambda: len(children(group)) == 2 and children(group), what="2 children")
    published = publish_ids(setup[1], "fast", range(400), seconds=0.01)
    log = tmp_path / "records.txt"
    wait_until(lambda: first[0] in {pid for *_, pid in events(log)}, what="child 0 working")
    os.kill(first[0], signal.SIGKILL)  # while it holds up to 50 unacked messages

    replaced = wait_until(
        lambda: (now := children(group)).get(0, first[0]) != first[0] and now,
        what="child 0 replaced",
    )
    assert replaced[1] == first[1], "the other child kept running"
    done = wait_until(lambda: published <= set(records(log)) and records(log), what="every id")
    assert set(done) == published, "every message processed, none lost"
    wait_until(drained(fresh_vhost_url, QUEUES), what="queues empty")
    assert re.search(
        rf"child 0 \(pid {first[0]}\) died: killed by SIGKILL; restarting", group.output()
    )
    group.signal(signal.SIGTERM)
    assert group.wait() == ExitCode.OK


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_reaches_every_child_and_each_drains_within_grace(
    setup: tuple[Path, Registry], start: Callable[..., Mserve], tmp_path: Path, signum: int
) -> None:
    group = start("--processes", "2", "--grace", "30")
    wait_until(lambda: len(children(group)) == 2, what="2 children")
    publish_ids(setup[1], "slow", range(2), seconds=1.5)  # prefetch 1: one for each child
    log = tmp_path / "records.txt"
    started = wait_until(
        lambda: (
            len({pid for event, *_, pid in events(log) if event == "started"}) == 2 and events(log)
        ),
        what="each child running a slow task",
    )
    group.signal(signum)
    assert group.wait() == ExitCode.OK, group.output()[-2000:]
    done = {(id_, pid) for event, _, id_, pid in events(log) if event == "done"}
    assert done == {(id_, pid) for event, _, id_, pid in started if event == "started"}


def test_the_group_metrics_add_up_every_childs_counters(
    setup: tuple[Path, Registry], start: Callable[..., Mserve], tmp_path: Path
) -> None:
    group = start("--processes", "2")
    wait_until(lambda: len(children(group)) == 2, what="2 children")
    published = publish_ids(setup[1], "fast", range(300), seconds=0.005)
    log = tmp_path / "records.txt"
    wait_until(lambda: published <= set(records(log)), what="every id")
    per_child = {pid for event, _, _, pid in events(log) if event == "done"}
    assert len(per_child) == 2, "both children processed some"
    wait_until(lambda: processed(group, "fast") == 300, what="/metrics to count all 300")
    assert "\nmqwire_group_children 2\n" in group.http_get("/metrics")[1]
    group.signal(signal.SIGTERM)
    assert group.wait() == ExitCode.OK


def test_children_that_keep_dying_stop_the_group_with_crash_loop(
    setup: tuple[Path, Registry], start: Callable[..., Mserve], tmp_path: Path
) -> None:
    group = start("--processes", "2", "--max-deaths", "3", "--restart-window", "120")
    publish_ids(setup[1], "fast", range(1), die=True)  # kills whichever child takes it
    assert group.wait(timeout=60) == ExitCode.CRASH_LOOP
    dying = [pid for event, _, _, pid in events(tmp_path / "records.txt") if event == "dying"]
    assert len(dying) == 3
    assert "3 children died within 120 s (--max-deaths 3)" in group.output()


def test_a_bad_config_fails_before_any_child_starts(
    setup: tuple[Path, Registry], start: Callable[..., Mserve]
) -> None:
    group = start("nosuchname", "--processes", "2", wait=False)
    assert group.wait() == ExitCode.CONFIG
    assert "started child" not in group.output()


def gone(pid: int) -> bool:
    """The process ended (a zombie waiting for init to reap it counts as ended)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status


def test_children_of_a_killed_supervisor_stop_rather_than_linger(
    setup: tuple[Path, Registry], start: Callable[..., Mserve]
) -> None:
    group = start("--processes", "2")
    pids = wait_until(lambda: len(now := children(group)) == 2 and now, what="2 children")
    group.signal(signal.SIGKILL)  # no handler runs: only the closed stdin pipe tells them
    assert group.wait() == -signal.SIGKILL
    wait_until(lambda: all(gone(pid) for pid in pids.values()), what="the children to stop")
