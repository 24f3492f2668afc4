"""``mserve`` under faults: killed workers, dropped connections, a restarted broker, fatal errors.

Each test runs the worker as a real process in its own vhost, injects the fault (``kill -9``,
``rabbitmqctl``, a deleted queue, a bad URL), then compares the set of ids published with the
set the tasks recorded, and the broker's ready and unacknowledged counts with zero.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pika  # type: ignore[import-untyped]
import pytest
from mserve_harness import (
    QUEUES,
    Mserve,
    broker_accepts,
    consumers_of,
    drained,
    events,
    publish_ids,
    queue_state,
    records,
    unacked,
    vhost_of,
    wait_until,
    worker_connections,
)

from mqwire.runtime import Registry
from mqwire.runtime.errors import ExitCode, PublishError

pytestmark = pytest.mark.broker

Ctl = Callable[..., str]


def all_done(path: Path, wanted: set[str]) -> Callable[[], set[str]]:
    """Condition: every wanted id has a ``done`` record; the recorded ids then."""
    return lambda: (done := set(records(path))) >= wanted and done


def settled(url: str, rabbitmqctl: Ctl) -> None:
    """Every queue empty and nothing unacknowledged (the worker acked what it finished)."""
    wait_until(drained(url, QUEUES), what="queues empty")
    wait_until(lambda: set(unacked(rabbitmqctl, vhost_of(url)).values()) == {0}, what="no unacked")


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


def test_a_broker_restart_while_publishing_and_consuming_loses_no_confirmed_message(
    setup: tuple[Path, Registry], start: Callable[..., Mserve], fresh_vhost_url: str,
    tmp_path: Path, rabbitmqctl: Ctl,
) -> None:  # fmt: skip
    log = tmp_path / "records.txt"
    worker = start()
    publisher = setup[1].publisher("work")
    confirmed: list[str] = []
    refused: list[PublishError] = []
    finish = threading.Event()

    def publish_until_finished() -> None:
        n = 0
        while not finish.is_set():
            try:
                publisher.publish({"id": n}, routing_key="fast")
            except PublishError as exc:
                refused.append(exc)
                finish.wait(0.05)  # retry pace while the broker is down
                continue
            confirmed.append(str(n))
            n += 1

    thread = threading.Thread(target=publish_until_finished, daemon=True)
    thread.start()
    try:
        try:
            wait_until(lambda: len(confirmed) >= 100, what="100 confirmed before the stop")
            rabbitmqctl("stop_app")
            wait_until(lambda: refused, what="a publish refused while the broker is down")
        finally:  # whatever happened, the broker runs again
            rabbitmqctl("start_app")
            rabbitmqctl("await_startup")
            wait_until(lambda: broker_accepts(fresh_vhost_url), what="the broker accepting again")
        during = len(confirmed)
        wait_until(lambda: len(confirmed) >= during + 100, what="100 confirmed after the restart")
    finally:
        finish.set()
        thread.join(timeout=60)
    assert not thread.is_alive()
    wanted = set(confirmed)
    done = wait_until(all_done(log, wanted), timeout=90, what="every confirmed message done")
    assert done <= wanted | {str(len(confirmed))}, "nothing but what was published"
    settled(fresh_vhost_url, rabbitmqctl)
    output = worker.output()
    assert "retrying in" in output, "it waited (backoff) while the broker was down"
    assert worker.process.poll() is None, "the worker survived the restart"
    assert {pid for *_, pid in events(log)} == {worker.pid}


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
    setup: tuple[Path, Registry], fresh_vhost_url: str, tmp_path: Path
) -> None:
    with pika.BlockingConnection(pika.URLParameters(fresh_vhost_url)) as connection:
        channel = connection.channel()
        channel.queue_delete("fast")
        channel.queue_declare("fast", durable=True, arguments={"x-max-length": 10})
    began = time.monotonic()
    worker = Mserve(setup[0], fresh_vhost_url, tmp_path)
    assert worker.wait(timeout=30) == ExitCode.TOPOLOGY_MISMATCH
    assert time.monotonic() - began < 15, "no reconnect loop before giving up"
    output = worker.output()
    assert "'fast'" in output and "x-max-length" in output
    assert "retrying" not in output and "reconnecting" not in output


def test_a_wrong_password_is_a_config_error_and_never_printed(
    setup: tuple[Path, Registry], fresh_vhost_url: str, tmp_path: Path
) -> None:
    password = "not-the-Passw0rd-4711"
    url = fresh_vhost_url.replace("guest:guest@", f"guest:{password}@", 1)
    assert password in url
    worker = Mserve(setup[0], url, tmp_path)
    assert worker.wait(timeout=30) == ExitCode.CONFIG
    output = worker.output()
    assert "credentials" in output
    assert password not in output
    assert "retrying" not in output


def test_nothing_listening_exits_unreachable_after_max_unreachable(
    setup: tuple[Path, Registry], fresh_vhost_url: str, tmp_path: Path
) -> None:
    with socket.socket() as probe:  # a port nothing listens on: bound, never listened
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        url = fresh_vhost_url.replace("127.0.0.1:5672", f"127.0.0.1:{port}", 1)
        assert str(port) in url
        worker = Mserve(setup[0], url, tmp_path, "--max-unreachable", "1")
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
