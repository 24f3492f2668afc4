"""A coroutine task that awaits its follow-ups' confirms (``apublish``) leaves the worker's
other queues flowing meanwhile; one that calls ``publish()`` holds the loop, as the control.

``other`` tasks wait, on the worker's loop, until ``fan_out`` began, then note whether it was
still publishing. Its 100 follow-ups are each confirmed before the next, and all of them
before its input is acked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from mserve_harness import (
    WORK_TOPOLOGY_HEAD,
    Mserve,
    declared_topology,
    drained,
    events,
    records,
    wait_until,
)

from mqwire.runtime import Registry

pytestmark = pytest.mark.broker

TOPOLOGY = (
    WORK_TOPOLOGY_HEAD
    + """\
queues:
  fan: {consumer: work}
  other: {consumer: work}
  followups: {consumer: work}
tasks:
  fan_out: {task: "mserve_app:fan_out", queue: fan}
  other: {task: "mserve_app:wait_for_fan_out", queue: other}
  followups: {task: "mserve_app:record", queue: followups}
"""
)

OTHERS = 5
FOLLOWUPS = 100


@pytest.fixture
def setup(tmp_path: Path, vhost_url: str) -> Iterator[tuple[Path, Registry]]:
    with declared_topology(tmp_path, TOPOLOGY, vhost_url) as compiled:
        yield compiled


@pytest.mark.parametrize(("blocking", "expected"), [(False, "during"), (True, "after")])
def test_other_queues_run_while_a_coroutine_awaits_its_follow_ups_confirms(
    setup: tuple[Path, Registry],
    vhost_url: str,
    tmp_path: Path,
    mserve: Callable[..., Mserve],
    blocking: bool,
    expected: str,
) -> None:
    ini, registry = setup
    log = tmp_path / "records.txt"
    mserve(ini, vhost_url)
    publisher = registry.publisher("work")
    # The others arrive first and wait, on the worker's loop, for the fan-out to begin.
    for n in range(OTHERS):
        publisher.publish(body={"id": f"o{n}"}, routing_key="other")
    body = {"id": "f", "count": FOLLOWUPS, "key": "followups", "blocking": blocking}
    publisher.publish(body=body, routing_key="fan")

    def finished() -> bool:
        others = [line for line in events(log) if line[1] == "other"]
        return len(records(log, queue="followups")) == FOLLOWUPS and len(others) == OTHERS

    wait_until(finished, timeout=60, what="every follow-up and every other task")
    wait_until(
        drained(vhost_url, ["fan", "other", "followups"]), timeout=30, what="the queues drained"
    )
    seen = {event for event, queue, _, _ in events(log) if queue == "other"}
    assert seen == {expected}
    assert sorted(records(log, queue="followups")) == sorted(f"f.{n}" for n in range(FOLLOWUPS))
    assert [e[0] for e in events(log) if e[1] == "fan"] == ["fan_out_start", "fan_out_end"]
