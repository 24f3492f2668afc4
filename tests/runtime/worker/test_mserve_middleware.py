"""``mserve`` runs the topology's middleware around each task and each publish of its tasks,
and ``/metrics`` shows its connections' states and its publishers' outcomes, on the real broker.

The middleware (``mserve_app:Recording``) writes one line per hook call to the record file,
from the worker and from this test's own publisher alike (their pids tell them apart); it
carries the current "span" in a header, as a tracer would.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from mserve_harness import Mserve, declared_topology, hooked_topology, publish_hooked, wait_until

from mqwire.runtime import Registry

pytestmark = pytest.mark.broker

Line = tuple[str, str, str, str]  # event, queue or routing key, id, detail


@pytest.fixture
def setup(
    tmp_path: Path, vhost_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, Registry]]:
    monkeypatch.setenv("MSERVE_TEST_LOG", str(tmp_path / "records.txt"))  # this process's too
    topology = hooked_topology("mserve_app:Recording")
    with declared_topology(tmp_path, topology, vhost_url) as compiled:
        yield compiled


def hook_lines(path: Path, pid: int) -> list[Line]:
    """The middleware's lines written by process ``pid``, in order."""
    found = []
    for line in path.read_text().splitlines() if path.exists() else []:
        event, where, id_, process, *detail = line.split()
        if int(process) == pid and detail:
            found.append((event, where, id_, detail[0]))
    return found


def of(lines: list[Line], where: str, id_: str) -> list[tuple[str, str]]:
    return [(event, detail) for event, w, i, detail in lines if (w, i) == (where, id_)]


def test_the_middleware_sees_each_task_outcome_and_each_publish_with_its_confirm(
    setup: tuple[Path, Registry], vhost_url: str, tmp_path: Path, mserve: Callable[..., Mserve]
) -> None:
    ini, registry = setup
    log = tmp_path / "records.txt"
    worker = mserve(ini, vhost_url)
    try:
        publish_hooked(registry)
        wanted = {("after_task:ack", "fast"), ("after_task:ack", "coro"),
                  ("after_task:dead-letter", "flaky"), ("after_task:ack", "followups")}  # fmt: skip

        def all_seen() -> list[Line]:
            lines = hook_lines(log, worker.pid)
            return lines if wanted <= {(event, where) for event, where, _, _ in lines} else []

        ours = wait_until(all_seen, what="every outcome seen by the worker's middleware")
        status, metrics = worker.http_get("/metrics")
    finally:
        worker.signal()
        assert worker.wait() == 0

    mine = hook_lines(log, os.getpid())
    for id_, queue in [("1", "fast"), ("2", "coro"), ("3", "flaky"), ("4", "follow")]:
        (before, _), (after, seconds) = of(mine, queue, id_)
        assert (before, after) == ("before_publish", "after_publish:confirmed")
        assert 0 < float(seconds) < 30
    assert of(ours, "fast", "1") == [("before_task", "-"), ("after_task:ack", "fast:1:-")]
    assert of(ours, "coro", "2") == [("before_task", "-"), ("after_task:ack", "coro:2:-")]
    assert of(ours, "flaky", "3") == [
        ("before_task", "-"), ("after_task:retry", "flaky:3:ValueError"),
        ("before_task", "-"), ("after_task:dead-letter", "flaky:3:ValueError"),
    ], "retry and dead-letter copies are the worker's own: no publish hooks for them"  # fmt: skip
    follow = of(ours, "follow", "4")
    assert [event for event, _ in follow] == ["before_task", "after_task:ack"]
    assert follow[1][1] == "follow:4:-"
    published = of(ours, "followups", "4")
    assert published[0] == ("before_publish", "follow:4"), "in the task, its span is current"
    assert [event for event, _ in published] == [
        "before_publish", "after_publish:confirmed", "before_task", "after_task:ack",
    ]  # fmt: skip
    assert published[2] == ("before_task", "follow:4"), "the follow-up carried the task's span"
    assert published[3] == ("after_task:ack", "followups:4:-")

    assert status == 200
    for series in [
        'mqwire_connection_state{connection="mserve:work",state="connected"} 1',
        'mqwire_connection_state{connection="mserve:work:outcomes",state="connected"} 1',
        'mqwire_connection_state{connection="mqwire-publisher:work",state="connected"} 1',
        'mqwire_published_total{publisher="work",outcome="confirmed"} 1',
        'mqwire_publish_seconds_count{publisher="work"} 1',
        'mqwire_messages_dead_lettered_total{queue="flaky",task="fail_when_bad"} 1',
    ]:
        assert series in metrics.splitlines(), series
