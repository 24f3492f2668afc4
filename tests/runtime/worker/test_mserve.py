"""``mserve`` against the real broker: every message published is processed or dead-lettered.

Each test runs the worker as a real process in its own vhost, publishes through the
application's publisher, and compares the ids published with the ids the tasks recorded and
with the broker's own counts.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from pathlib import Path

import pika  # type: ignore[import-untyped]
import pytest
import topology_setup as wiring
from mserve_harness import (
    QUEUES,
    Mserve,
    drained,
    get_all,
    publish_ids,
    queue_state,
    records,
    topology,
    unacked,
    vhost_of,
    wait_until,
)

from mqwire.runtime import Registry
from mqwire.runtime.errors import ExitCode

pytestmark = pytest.mark.broker


def test_a_thousand_messages_are_all_processed_and_acked(
    setup: tuple[Path, Registry],
    start: Callable[..., Mserve],
    fresh_vhost_url: str,
    tmp_path: Path,
    rabbitmqctl: Callable[..., str],
) -> None:
    published = publish_ids(setup[1], "fast", range(1000))
    published |= publish_ids(setup[1], "coro", range(1000, 1100))
    worker = start()
    done = wait_until(
        lambda: (
            len(records(tmp_path / "records.txt")) >= 1100 and records(tmp_path / "records.txt")
        ),
        what="1,100 records",
    )
    assert set(done) == published
    wait_until(drained(fresh_vhost_url, QUEUES), what="queues empty")
    assert set(unacked(rabbitmqctl, vhost_of(fresh_vhost_url)).values()) == {0}
    worker.signal(signal.SIGTERM)
    assert worker.wait() == ExitCode.OK
    assert len(done) == 1100, "no message ran twice without a failure"


def test_bodies_larger_than_a_frame_arrive_whole_between_small_ones(
    setup: tuple[Path, Registry], start: Callable[..., Mserve], fresh_vhost_url: str, tmp_path: Path
) -> None:
    # The broker splits a body above frame_max (128 KiB) into several body frames, and one
    # read of the socket ends anywhere in them: the worker must reassemble every message.
    pad = 300_000
    published = publish_ids(setup[1], "fast", range(0, 20))
    published |= publish_ids(setup[1], "fast", range(20, 23), pad="x" * pad, pad_length=pad)
    published |= publish_ids(setup[1], "fast", range(23, 40))
    worker = start()
    wait_until(lambda: len(records(tmp_path / "records.txt")) >= 40, what="40 records")
    wait_until(drained(fresh_vhost_url, QUEUES), what="queues empty")
    assert sorted(records(tmp_path / "records.txt")) == sorted(published)
    worker.signal(signal.SIGTERM)
    assert worker.wait() == ExitCode.OK


def test_a_failing_task_is_retried_then_dead_lettered_and_the_good_ones_run(
    setup: tuple[Path, Registry], start: Callable[..., Mserve], fresh_vhost_url: str, tmp_path: Path
) -> None:
    worker = start()
    good = publish_ids(setup[1], "flaky", range(0, 50))
    bad = publish_ids(setup[1], "flaky", range(50, 53), bad=True)
    good |= publish_ids(setup[1], "flaky", range(53, 100))
    wait_until(
        lambda: queue_state(fresh_vhost_url, ["flaky.dead"])["flaky.dead"][0] == 3,
        what="three dead letters",
    )
    assert set(records(tmp_path / "records.txt")) == good
    failed = records(tmp_path / "records.txt", "failed")
    assert sorted(failed) == sorted([*bad] * 3), "first attempt and two retries each"
    dead = get_all(fresh_vhost_url, "flaky.dead")
    assert {str(json.loads(body)["id"]) for _, body in dead} == bad
    for properties, _ in dead:
        headers = properties.headers
        assert headers["x-mqwire-exception"] == "ValueError"
        assert headers["x-mqwire-reason"].startswith("ValueError: refusing message")
        assert headers["x-mqwire-attempts"] == 3
        assert headers["x-mqwire-task"] == "fail_when_bad"
        assert headers["x-mqwire-queue"] == "flaky"
    assert worker.process.poll() is None, "the worker goes on"


def test_undecodable_and_schema_violating_bodies_are_dead_lettered_at_once(
    start: Callable[..., Mserve], fresh_vhost_url: str, tmp_path: Path
) -> None:
    worker = start()
    bodies = [
        (b"{not json", "application/json"),
        (b"\xff\xfe", "application/json"),
        (json.dumps({"id": "seven"}).encode(), "application/json"),
        (json.dumps({"no_id": 1}).encode(), "application/json"),
    ]
    with pika.BlockingConnection(pika.URLParameters(fresh_vhost_url)) as connection:
        channel = connection.channel()
        for n, (body, content_type) in enumerate(bodies):
            props = pika.BasicProperties(content_type=content_type, message_id=f"bad-{n}")
            channel.basic_publish("", "checked", body, props)
        ok = pika.BasicProperties(content_type="application/json", message_id="good")
        channel.basic_publish("", "checked", b'{"id": 8}', ok)
    wait_until(lambda: records(tmp_path / "records.txt") == ["8"], what="the good message")
    wait_until(
        lambda: queue_state(fresh_vhost_url, ["checked.dead"])["checked.dead"][0] == 4,
        what="four dead letters",
    )
    dead = {p.message_id: p.headers for p, _ in get_all(fresh_vhost_url, "checked.dead")}
    assert sorted(dead) == ["bad-0", "bad-1", "bad-2", "bad-3"]
    assert all(h["x-mqwire-attempts"] == 1 for h in dead.values())
    assert dead["bad-0"]["x-mqwire-exception"] == "DecodeError"
    assert dead["bad-2"]["x-mqwire-exception"] == "MessageSchemaError"
    assert "'seven' is not of type 'integer'" in dead["bad-2"]["x-mqwire-reason"]
    assert worker.process.poll() is None


def test_sigterm_lets_the_running_task_finish_and_exits_zero(
    setup: tuple[Path, Registry],
    start: Callable[..., Mserve],
    fresh_vhost_url: str,
    tmp_path: Path,
    rabbitmqctl: Callable[..., str],
) -> None:
    worker = start("--grace", "20")
    publish_ids(setup[1], "slow", range(1), seconds=2)
    publish_ids(setup[1], "slow", range(1, 4), seconds=0)
    wait_until(lambda: records(tmp_path / "records.txt", "started"), what="the slow task")
    worker.signal(signal.SIGTERM)
    assert worker.wait(timeout=20) == ExitCode.OK
    assert records(tmp_path / "records.txt") == ["0"], "finished, and nothing new started"
    state = queue_state(fresh_vhost_url, ["slow"])["slow"]
    assert state == (3, 0), "the three waiting messages are back in the queue"
    assert unacked(rabbitmqctl, vhost_of(fresh_vhost_url))["slow"] == 0


def stopping_during_a_slow_task(
    setup: tuple[Path, Registry], start: Callable[..., Mserve], tmp_path: Path, grace: str
) -> Mserve:
    """A worker sent SIGTERM while a 30-second task runs."""
    worker = start("--grace", grace)
    publish_ids(setup[1], "slow", range(1), seconds=30)
    wait_until(lambda: records(tmp_path / "records.txt", "started"), what="the slow task")
    worker.signal(signal.SIGTERM)
    return worker


def assert_requeued_unfinished(fresh_vhost_url: str, tmp_path: Path) -> None:
    wait_until(lambda: queue_state(fresh_vhost_url, ["slow"])["slow"] == (1, 0), what="requeue")
    assert records(tmp_path / "records.txt") == []


def test_a_second_signal_requeues_what_is_in_flight(
    setup: tuple[Path, Registry], start: Callable[..., Mserve], fresh_vhost_url: str, tmp_path: Path
) -> None:
    worker = stopping_during_a_slow_task(setup, start, tmp_path, grace="60")
    wait_until(lambda: "stopping;" in worker.output(), what="graceful stop begun")
    worker.signal(signal.SIGINT)
    assert worker.wait(timeout=20) == ExitCode.FORCED_STOP
    assert_requeued_unfinished(fresh_vhost_url, tmp_path)


def test_a_task_outlasting_the_grace_period_is_requeued(
    setup: tuple[Path, Registry], start: Callable[..., Mserve], fresh_vhost_url: str, tmp_path: Path
) -> None:
    worker = stopping_during_a_slow_task(setup, start, tmp_path, grace="1")
    assert worker.wait(timeout=20) == ExitCode.FORCED_STOP
    assert "grace period over; requeueing 1 message(s)" in worker.output()
    assert_requeued_unfinished(fresh_vhost_url, tmp_path)


def test_a_bad_config_exits_with_the_config_code(
    tmp_path: Path, mserve: Callable[..., Mserve]
) -> None:
    ini = wiring.compile_into(tmp_path, topology().replace("mserve_app:record", "mserve_app:nope"))
    worker = mserve(ini, "amqp://guest:guest@127.0.0.1:1/%2F", wait=False)
    assert worker.wait() == ExitCode.CONFIG
    assert "nope" in worker.output()
