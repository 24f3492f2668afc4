"""``mserve`` and task timeouts against the real broker: counted from the start, stuck threads.

A task of queue ``limited`` may run 1 s. Behind one that overruns, the next message must
start, run once and be acked (not dead-lettered for time it spent waiting); behind one that
is blocked in C, the queue must flow again once it is abandoned; and at ``--max-stuck`` the
process must turn ``/healthz`` red and exit STUCK. Each test prints what it measured.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pika  # type: ignore[import-untyped]
import pytest
import topology_setup as wiring
from mserve_harness import (
    Mserve,
    drained,
    get_all,
    queue_state,
    records,
    unacked,
    vhost_of,
    wait_until,
)

from mqwire.runtime import load
from mqwire.runtime.errors import ExitCode

pytestmark = pytest.mark.broker

TOPOLOGY = """\
version: 1
connections:
  main: {url: "${AMQP_URL}", heartbeat: 30}
publisher_consumers:
  work: {prefix: work.mq, transport: amqp, connection: main}
queues:
  limited: {consumer: work, prefetch: 10}
  gated: {consumer: work, prefetch: 1}
tasks:
  hold: {task: "mserve_app:hold", queue: limited, timeout: 1}
  gate: {task: "mserve_app:gate", queue: gated}
"""
QUEUES = ["limited", "gated"]
Ctl = Callable[..., str]


@pytest.fixture
def start(
    fresh_vhost_url: str, tmp_path: Path, mserve: Callable[..., Mserve]
) -> Callable[..., Mserve]:
    """Starts mserve on ``TOPOLOGY`` in a fresh vhost (declared first); waits until it consumes."""
    ini = wiring.compile_into(tmp_path, TOPOLOGY)
    registry = load(ini, environ={"AMQP_URL": fresh_vhost_url})
    wiring.declare(fresh_vhost_url, registry)
    registry.close()
    return lambda *args: mserve(ini, fresh_vhost_url, *args)


def send(url: str, queue: str, *bodies: dict[str, object]) -> float:
    """Publish each body (confirmed) with message id ``m-<id>``; when the last was confirmed."""
    with pika.BlockingConnection(pika.URLParameters(url)) as connection:
        channel = connection.channel()
        channel.confirm_delivery()
        for body in bodies:
            props = pika.BasicProperties(
                content_type="application/json", message_id=f"m-{body['id']}", delivery_mode=2
            )
            channel.basic_publish("", queue, json.dumps(body).encode(), props)
    return time.monotonic()


def dead_letters(url: str) -> dict[str, str]:
    """The dead-lettered messages of ``limited``: id -> exception name."""
    return {
        str(json.loads(body)["id"]): properties.headers["x-mqwire-exception"]
        for properties, body in get_all(url, "limited.dead")
    }


def settled(url: str, rabbitmqctl: Ctl) -> None:
    wait_until(drained(url, QUEUES), what="queues empty")
    wait_until(lambda: set(unacked(rabbitmqctl, vhost_of(url)).values()) == {0}, what="no unacked")


def test_a_message_behind_a_timed_out_task_runs_once_and_is_acked_not_dead_lettered(
    start: Callable[..., Mserve], fresh_vhost_url: str, tmp_path: Path, rabbitmqctl: Ctl
) -> None:
    log = tmp_path / "records.txt"
    start("--concurrency", "1")
    sent = send(fresh_vhost_url, "limited", {"id": 0, "mode": "spin", "seconds": 4}, {"id": 1})
    wait_until(lambda: "1" in records(log), timeout=20, what="the 0 s task done")
    waited = time.monotonic() - sent
    wait_until(lambda: queue_state(fresh_vhost_url, ["limited.dead"])["limited.dead"][0] >= 1)
    settled(fresh_vhost_url, rabbitmqctl)
    dead = dead_letters(fresh_vhost_url)
    runs = records(log, "started").count("1"), records(log).count("1")
    print(f"\n[behind a timed-out task] 0 s task: started {runs[0]}x, done {runs[1]}x, "
          f"done {waited:.1f} s after publishing; dead letters: {dead}")  # fmt: skip
    assert dead == {"0": "TaskTimeout"}, "only the overrunning task is dead-lettered"
    assert runs == (1, 1), "the 0 s task ran exactly once"
    assert "0" not in records(log), "the spinning task was stopped before its 4 s were up"


def test_a_task_blocked_in_c_is_abandoned_and_the_queue_flows_again(
    start: Callable[..., Mserve], fresh_vhost_url: str, tmp_path: Path, rabbitmqctl: Ctl
) -> None:
    log = tmp_path / "records.txt"
    worker = start("--concurrency", "1")  # default --timeout-grace: 5 s
    sent = send(fresh_vhost_url, "limited", {"id": 0, "mode": "block", "seconds": 120})
    send(fresh_vhost_url, "limited", *({"id": n} for n in range(1, 6)))
    after = {str(n) for n in range(1, 6)}
    wait_until(lambda: set(records(log)) >= after, timeout=30, what="the messages behind it")
    stalled = time.monotonic() - sent
    settled(fresh_vhost_url, rabbitmqctl)
    dead = dead_letters(fresh_vhost_url)
    metrics = worker.http_get("/metrics")[1]
    health = worker.http_get("/healthz")
    print(f"\n[behind a task blocked in C] 5 messages behind it done {stalled:.1f} s after "
          f"it was published; runs: {sorted(records(log))}; dead letters: {dead}; "
          f"/healthz {health[0]}")  # fmt: skip
    assert dead == {"0": "TaskTimeout"}
    assert sorted(records(log)) == sorted(after), "each ran once; the blocked one never ended"
    assert stalled < 20, "abandoned after its timeout and the grace"
    assert "mqwire_stuck_tasks 1" in metrics.splitlines()
    assert health[0] == 200, "one stuck task is below --max-stuck"
    assert "stuck: task 'hold' message_id=m-0" in health[1]
    assert "abandoned task 'hold' message_id=m-0" in worker.output()
    assert worker.process.poll() is None


def test_max_stuck_turns_healthz_red_then_mserve_drains_and_exits_stuck(
    start: Callable[..., Mserve], fresh_vhost_url: str, tmp_path: Path, rabbitmqctl: Ctl
) -> None:
    log, gate = tmp_path / "records.txt", tmp_path / "open"
    worker = start("--concurrency", "2", "--max-stuck", "1", "--timeout-grace", "1")
    send(fresh_vhost_url, "gated", {"id": 10, "path": str(gate)})
    wait_until(lambda: "10" in records(log, "started"), what="the gated task running")
    sent = send(fresh_vhost_url, "limited", {"id": 0, "mode": "block", "seconds": 120})
    health = wait_until(
        lambda: (answer := worker.http_get("/healthz"))[0] == 503 and answer, what="/healthz 503"
    )
    red = time.monotonic() - sent
    ready = worker.http_get("/readyz")
    gate.touch()  # the drain can finish now
    code = worker.wait(timeout=30)
    print(f"\n[--max-stuck 1] /healthz 503 {red:.1f} s after publishing; exit code {code}; "
          f"body: {health[1]!r}")  # fmt: skip
    assert "1 stuck task(s), --max-stuck 1" in health[1]
    assert "stuck: task 'hold' message_id=m-0" in health[1]
    assert ready[0] == 503 and "stopping" in ready[1]
    assert code == ExitCode.STUCK == 6
    assert records(log) == ["10"], "the running task was drained, the stuck one never ended"
    assert dead_letters(fresh_vhost_url) == {"0": "TaskTimeout"}
    settled(fresh_vhost_url, rabbitmqctl)
