"""``mqwire_worker`` and its handle against the real broker: ready, idle, and failing clearly.

The tasks are the worker tests' own (``mserve_app``), recording each run to a file, so each
test can tell whether ``wait_idle`` returned before the work it waited for was done.
"""

from __future__ import annotations

import signal
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
import topology_setup as wiring
from mserve_harness import events, mserve_environ, records

from mqwire.testing import WorkerProcess

pytestmark = pytest.mark.broker

TOPOLOGY = """\
version: 1
connections:
  main: {url: "${AMQP_URL}"}
publisher_consumers:
  work: {prefix: work.mq, transport: amqp, connection: main}
queues:
  first: {consumer: work, retry: {delays: [1]}}
  gated: {consumer: work}
  followups: {consumer: work, prefetch: 20}
tasks:
  first: {task: "mserve_app:fail_first", queue: first}
  gated: {task: "mserve_app:gated", queue: gated}
  followups: {task: "mserve_app:record", queue: followups}
"""

Start = Callable[..., WorkerProcess]


@pytest.fixture
def worker(mqwire_worker: Start, rabbitmq_url: str, tmp_path: Path) -> WorkerProcess:
    ini = wiring.compile_into(tmp_path, TOPOLOGY)
    return mqwire_worker(ini, mserve_environ(rabbitmq_url, tmp_path))


def publish(worker: WorkerProcess, queue: str, *bodies: dict[str, object]) -> None:
    publisher = worker.registry.publisher("work")
    with publisher.batch():
        for body in bodies:
            publisher.publish(body, routing_key=queue)


def test_wait_idle_waits_for_a_retry_held_in_its_delay_queue(
    worker: WorkerProcess, tmp_path: Path
) -> None:
    publish(worker, "first", {"id": 1})

    worker.wait_idle(timeout=30)

    log = tmp_path / "records.txt"
    assert records(log, "failed") == ["1"]
    assert records(log, "done") == ["1"], "the retry ran a second after the first attempt"


def test_wait_idle_waits_for_what_the_tasks_publish(worker: WorkerProcess, tmp_path: Path) -> None:
    publish(worker, "gated", *({"id": n} for n in range(30)))

    worker.wait_idle(timeout=30)

    log = tmp_path / "records.txt"
    assert sorted(records(log, "published"), key=int) == [str(n) for n in range(30)]
    assert sorted(records(log, "done", "followups"), key=int) == [str(n) for n in range(30)]


def test_wait_idle_times_out_naming_the_queue_whose_message_is_in_flight(
    worker: WorkerProcess, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    publish(worker, "gated", {"id": 1, "path": str(gate)})

    with pytest.raises(AssertionError, match="waiting for mserve to be idle") as timed_out:
        worker.wait_idle(timeout=1)

    assert "'gated': 0 ready, 1 in flight" in str(timed_out.value)
    assert "'followups': 0 ready, 0 in flight" in str(timed_out.value)
    gate.touch()
    worker.wait_idle(timeout=30)
    assert records(tmp_path / "records.txt", "done", "followups") == ["1"]


def test_wait_idle_fails_at_once_with_the_exit_code_when_the_worker_is_gone(
    worker: WorkerProcess,
) -> None:
    worker.signal(signal.SIGKILL)
    worker.wait()

    with pytest.raises(AssertionError, match=r"mserve exited with -9 before it was idle"):
        worker.wait_idle(timeout=60)


def test_a_worker_that_cannot_start_fails_with_its_exit_code_and_last_line(
    mqwire_worker: Start, rabbitmq_url: str, tmp_path: Path
) -> None:
    ini = wiring.compile_into(tmp_path, TOPOLOGY)

    with pytest.raises(AssertionError) as failed:
        mqwire_worker(ini, mserve_environ(rabbitmq_url, tmp_path), args=["nosuchname"])

    assert str(failed.value).startswith("mserve exited with 2 (CONFIG) before it was ready: ")
    assert "'nosuchname'" in str(failed.value)


def test_the_worker_stops_as_a_deployment_stops_it(worker: WorkerProcess, tmp_path: Path) -> None:
    publish(worker, "gated", {"id": 1})
    worker.wait_idle(timeout=30)

    assert worker.stop() == 0
    assert "exiting with 0 (OK)" in worker.output()
    assert {pid for *_, pid in events(tmp_path / "records.txt")} == {worker.pid}


def test_a_given_http_port_is_used_without_reading_it_from_the_log(
    mqwire_worker: Start, rabbitmq_url: str, tmp_path: Path
) -> None:
    ini = wiring.compile_into(tmp_path, TOPOLOGY)
    config = tmp_path / "logging.ini"  # the whole log to a file: the port line never shows
    config.write_text(
        "[loggers]\nkeys=root\n[handlers]\nkeys=file\n[formatters]\nkeys=\n"
        "[logger_root]\nlevel=INFO\nhandlers=file\n"
        f"[handler_file]\nclass=FileHandler\nargs=({str(tmp_path / 'all.log')!r},)\n"
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    args = ["--log-config", str(config), "--http", f"127.0.0.1:{port}"]

    worker = mqwire_worker(ini, mserve_environ(rabbitmq_url, tmp_path), args=args)

    assert worker.status_port == port
    assert worker.http_get("/readyz")[0] == 200
    assert worker.output() == ""
    assert f"status on port {port}" in (tmp_path / "all.log").read_text()
