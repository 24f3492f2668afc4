"""``mserve`` under faults: killed workers, dropped connections, fatal errors.

Each test runs the worker as a real process in its own vhost, injects the fault (``kill -9``
of the worker, ``rabbitmqctl close_connection``, a deleted queue, a bad URL), then compares the
set of ids published with the set the tasks recorded, and the broker's ready and unacknowledged
counts with zero. Faults of the broker node itself (restart, crash) run on a private node:
``test_mserve_broker_faults.py``.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

import pika  # type: ignore[import-untyped]
import pytest
from mserve_harness import (
    Mserve,
    all_done,
    consumers_of,
    events,
    publish_ids,
    queue_state,
    records,
    settled,
    vhost_of,
    wait_until,
    worker_connections,
)

from mqwire.runtime import Registry
from mqwire.runtime.errors import ExitCode

pytestmark = pytest.mark.broker

Ctl = Callable[..., str]


def test_kill_9_mid_task_then_a_new_worker_processes_everything(
    setup: tuple[Path, Registry], start: Callable[..., Mserve], fresh_vhost_url: str,
    tmp_path: Path, rabbitmqctl: Ctl,
) -> None:  # fmt: skip
    log = tmp_path / "records.txt"
    first = start()
    published = publish_ids(setup[1], "slow", range(1), seconds=3)
    published |= publish_ids(setup[1], "slow", range(1, 6), seconds=0.1)
    wait_until(lambda: records(log, "started"), what="the first slow task")
    first.process.kill()
    first.wait()
    assert records(log) == [], "killed while its first task ran"
    wait_until(
        lambda: queue_state(fresh_vhost_url, ["slow"])["slow"] == (6, 0),
        what="the unacked message back in the queue",
    )
    second = start()
    done = wait_until(all_done(log, published), what="every message done")
    assert done == published
    settled(fresh_vhost_url, rabbitmqctl)
    assert ("done", "slow", "0", second.pid) in events(log), "the killed one ran again"
    assert second.process.poll() is None


def test_a_closed_connection_is_reopened_by_the_same_process(
    setup: tuple[Path, Registry], start: Callable[..., Mserve], fresh_vhost_url: str,
    tmp_path: Path, rabbitmqctl: Ctl,
) -> None:  # fmt: skip
    log, vhost = tmp_path / "records.txt", vhost_of(fresh_vhost_url)
    worker = start("--concurrency", "4")
    (before,) = worker_connections(rabbitmqctl, vhost)
    published = publish_ids(setup[1], "fast", range(500), seconds=0.03)  # 4 s of work
    wait_until(lambda: len(records(log)) >= 20, what="20 messages done")
    rabbitmqctl("close_connection", before, "fault injection by test_mserve_faults")
    done = wait_until(all_done(log, published), what="every message done")
    assert done == published
    settled(fresh_vhost_url, rabbitmqctl)
    # Those running (4) or just finished (ack lost) at the drop run again; not the rest of the
    # prefetch (50), which waited for a thread and could never have been acked.
    twice = len(records(log)) - len(published)
    assert twice <= 12, f"{twice} ran twice: only those running at the drop may"
    output = worker.output()
    assert "CONNECTION_FORCED" in output and "reconnecting" in output
    after_reconnect = output.split("reconnecting", 1)[1]
    assert "ack queue=fast" in after_reconnect, "it went on processing after the reconnect"
    after = wait_until(lambda: worker_connections(rabbitmqctl, vhost), what="a new connection")
    assert after != [before]
    assert worker.process.poll() is None
    assert {pid for *_, pid in events(log)} == {worker.pid}, "no other process ran a task"


@pytest.mark.parametrize("mserve_heartbeat", [1])
def test_a_plain_task_longer_than_the_heartbeat_timeout_keeps_the_connection(
    setup: tuple[Path, Registry], start: Callable[..., Mserve], fresh_vhost_url: str,
    tmp_path: Path, rabbitmqctl: Ctl,
) -> None:  # fmt: skip
    log, vhost = tmp_path / "records.txt", vhost_of(fresh_vhost_url)
    worker = start("--concurrency", "2")
    (before,) = worker_connections(rabbitmqctl, vhost)
    timeouts = rabbitmqctl("list_connections", "--no-table-headers", "pid", "timeout")
    assert f"{before}\t1" in timeouts.splitlines(), "the broker expects a heartbeat every second"
    published = publish_ids(setup[1], "slow", range(1), seconds=8)
    wait_until(lambda: records(log, "started"), what="the slow task")
    published |= publish_ids(setup[1], "fast", range(100, 120))
    done = wait_until(all_done(log, published), timeout=30, what="every message done")
    assert done == published
    lines = [(event, queue) for event, queue, *_ in events(log)]
    slow_done = lines.index(("done", "slow"))
    assert lines.count(("done", "fast")) == 20
    assert ("done", "fast") not in lines[slow_done:], "fast ones ran while the slow one worked"
    assert worker_connections(rabbitmqctl, vhost) == [before], "the same connection throughout"
    output = worker.output()
    assert "reconnecting" not in output and "retrying" not in output
    settled(fresh_vhost_url, rabbitmqctl)


def test_a_queue_with_other_arguments_on_the_broker_is_fatal(
    start: Callable[..., Mserve], fresh_vhost_url: str
) -> None:
    with pika.BlockingConnection(pika.URLParameters(fresh_vhost_url)) as connection:
        channel = connection.channel()
        channel.queue_delete("fast")
        channel.queue_declare("fast", durable=True, arguments={"x-max-length": 10})
    began = time.monotonic()
    worker = start(wait=False)
    assert worker.wait(timeout=30) == ExitCode.TOPOLOGY_MISMATCH
    assert time.monotonic() - began < 15, "no reconnect loop before giving up"
    output = worker.output()
    assert "'fast'" in output and "x-max-length" in output
    assert "retrying" not in output and "reconnecting" not in output


def test_a_wrong_password_is_a_config_error_and_never_printed(
    setup: tuple[Path, Registry], fresh_vhost_url: str, mserve: Callable[..., Mserve]
) -> None:
    password = "not-the-Passw0rd-4711"
    url = fresh_vhost_url.replace("guest:guest@", f"guest:{password}@", 1)
    assert password in url
    worker = mserve(setup[0], url, wait=False)
    assert worker.wait(timeout=30) == ExitCode.CONFIG
    output = worker.output()
    assert "credentials" in output
    assert password not in output
    assert "retrying" not in output


def test_nothing_listening_exits_unreachable_after_max_unreachable(
    setup: tuple[Path, Registry], fresh_vhost_url: str, mserve: Callable[..., Mserve]
) -> None:
    with socket.socket() as probe:  # a port nothing listens on: bound, never listened
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        url = fresh_vhost_url.replace("127.0.0.1:5672", f"127.0.0.1:{port}", 1)
        assert str(port) in url
        worker = mserve(setup[0], url, "--max-unreachable", "1", wait=False)
        assert worker.wait(timeout=30) == ExitCode.UNREACHABLE
    output = worker.output()
    assert "retrying in" in output and "giving up" in output


def test_a_deleted_queue_is_redeclared_and_consumed_again(
    setup: tuple[Path, Registry], start: Callable[..., Mserve], fresh_vhost_url: str,
    tmp_path: Path, rabbitmqctl: Ctl,
) -> None:  # fmt: skip
    log = tmp_path / "records.txt"
    worker = start()
    with pika.BlockingConnection(pika.URLParameters(fresh_vhost_url)) as connection:
        connection.channel().queue_delete("fast")
    wait_until(lambda: "cancelled the consumer of 'fast'" in worker.output(), what="the cancel")
    wait_until(lambda: consumers_of(fresh_vhost_url, "fast") == 1, what="fast consumed again")
    published = publish_ids(setup[1], "fast", range(7, 8))
    assert wait_until(all_done(log, published), what="the new message done") == published
    settled(fresh_vhost_url, rabbitmqctl)
    assert worker.process.poll() is None
    assert worker.output().count("consuming checked, coro, fast, flaky, slow") == 2
