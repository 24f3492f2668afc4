"""``mserve`` and a confirming publisher while the broker node itself fails: restart and crash.

These faults take the whole node away, so they run on a private node of this module
(``private_broker.py``), never on the shared one. Each test publishes ``{"id": n}`` with
confirms from a thread while the worker consumes, injects the fault, waits until publishing is
refused, brings the node back, and checks that every confirmed id was processed at least once
and nothing else was. The figures (confirmed, processed, duplicates, seconds down) are printed
(``pytest -s``) and recorded as properties (``--junitxml``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from mserve_harness import (
    Mserve,
    all_done,
    broker_accepts,
    events,
    queue_state,
    records,
    settled,
    wait_until,
)
from private_broker import PrivateNode

from mqwire.runtime import Registry
from mqwire.runtime.errors import PublishError
from mqwire.topology import delays

pytestmark = pytest.mark.private_broker


@pytest.fixture
def mserve_url(private_vhost_url: str) -> str:
    """The worker and the publisher of these tests use a vhost on the private node."""
    return private_vhost_url


class Publishing:
    """Publishes ``{"id": n, **extra}`` to ``routing_key`` from a thread until stopped.

    ``n`` moves on only when a publish is confirmed; a refused one is tried again with the same
    id, so the one id that may reach a task without being counted as sent is the last tried.
    """

    def __init__(self, registry: Registry, routing_key: str, **extra: object) -> None:
        self._publisher = registry.publisher("work")
        self._routing_key, self._extra = routing_key, extra
        self.confirmed: list[str] = []
        self.refused: list[PublishError] = []
        self._finish = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        n = 0
        while not self._finish.is_set():
            try:
                self._publisher.publish({"id": n, **self._extra}, routing_key=self._routing_key)
            except PublishError as exc:
                self.refused.append(exc)
                self._finish.wait(0.05)  # retry pace while the broker is down
                continue
            self.confirmed.append(str(n))
            n += 1

    def wait_confirmed(self, more: int, what: str) -> None:
        target = len(self.confirmed) + more
        wait_until(lambda: len(self.confirmed) >= target, timeout=90, what=f"{more} {what}")

    @property
    def unconfirmed_id(self) -> str:
        """The id tried last and never confirmed (it may have reached the queue)."""
        return str(len(self.confirmed))

    def __enter__(self) -> Publishing:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._finish.set()
        self._thread.join(timeout=60)
        assert not self._thread.is_alive(), "the publishing thread stopped"


def check_every_confirmed_processed(
    fault: str, log: Path, publishing: Publishing, worker: Mserve, url: str, node: PrivateNode,
    down: float, record_property: Callable[[str, object], None],
) -> None:  # fmt: skip
    """Every confirmed id done at least once, no other id but the last tried, queues settled,
    the same worker process throughout; prints and records the figures."""
    wanted = set(publishing.confirmed)
    wait_until(all_done(log, wanted), timeout=90, what="every confirmed message done")
    settled(url, node.ctl)
    runs = records(log)
    figures = {
        "confirmed": len(wanted),
        "refused": len(publishing.refused),
        "processed": len(runs),
        "duplicates": len(runs) - len(set(runs)),
        "seconds_down": round(down, 1),
    }
    print(f"{fault}: " + ", ".join(f"{name} {value}" for name, value in figures.items()))
    for name, value in figures.items():
        record_property(name, value)
    assert set(runs) <= wanted | {publishing.unconfirmed_id}, "nothing but what was published"
    output = worker.output()
    assert "retrying in" in output, "it waited (backoff) while the broker was down"
    assert worker.process.poll() is None, "the worker survived"
    assert {pid for *_, pid in events(log)} == {worker.pid}, "no other process ran a task"


def test_a_broker_restart_while_publishing_and_consuming_loses_no_confirmed_message(
    setup: tuple[Path, Registry], start: Callable[..., Mserve], mserve_url: str,
    tmp_path: Path, private_node: PrivateNode, record_property: Callable[[str, object], None],
) -> None:  # fmt: skip
    log = tmp_path / "records.txt"
    worker = start()
    with Publishing(setup[1], "fast") as publishing:
        publishing.wait_confirmed(100, "confirmed before the stop")
        began = time.monotonic()
        try:
            private_node.stop_app()
            wait_until(lambda: publishing.refused, what="a publish refused while the app is down")
        finally:  # whatever happened, the broker runs again
            private_node.start_app()
            wait_until(lambda: broker_accepts(mserve_url), what="the broker accepting again")
        down = time.monotonic() - began
        publishing.wait_confirmed(100, "confirmed after the restart")
    check_every_confirmed_processed(
        "restart", log, publishing, worker, mserve_url, private_node, down, record_property
    )


def test_a_broker_node_killed_and_started_again_loses_no_confirmed_message(
    setup: tuple[Path, Registry], start: Callable[..., Mserve], mserve_url: str,
    tmp_path: Path, private_node: PrivateNode, record_property: Callable[[str, object], None],
) -> None:  # fmt: skip
    log = tmp_path / "records.txt"
    worker = start()
    # Each task takes 20 ms: the publisher gets ahead, so persistent messages wait in the
    # durable queue when the node dies, besides those the worker holds unacked.
    with Publishing(setup[1], "fast", seconds=0.02) as publishing:
        publishing.wait_confirmed(100, "confirmed before the kill")
        backlog = wait_until(
            lambda: (ready := queue_state(mserve_url, ["fast"])["fast"][0]) >= 20 and ready,
            what="20 messages waiting in the queue",
        )
        began = time.monotonic()
        try:
            private_node.kill()
            wait_until(lambda: publishing.refused, what="a publish refused while the node is down")
        finally:  # whatever happened, the node runs again (same name, ports and data)
            if private_node.pid() is None:
                private_node.start()
            wait_until(lambda: broker_accepts(mserve_url), what="the broker accepting again")
        down = time.monotonic() - began
        publishing.wait_confirmed(100, "confirmed after the node came back")
    print(f"kill -9: {backlog} or more messages were waiting in the queue")
    record_property("backlog_at_kill", backlog)
    check_every_confirmed_processed(
        "kill -9", log, publishing, worker, mserve_url, private_node, down, record_property
    )
    assert "reconnecting" in worker.output(), "it noticed the lost connection and reconnected"


@pytest.mark.parametrize("mserve_delays", [True])
def test_delayed_messages_outlive_a_broker_restart(
    setup: tuple[Path, Registry], start: Callable[..., Mserve], mserve_url: str,
    tmp_path: Path, private_node: PrivateNode,
) -> None:  # fmt: skip
    """The ladder's queues are durable and its messages persistent: a restart of the node
    keeps the one due in seconds (run after its delay) and the one due in days (still on its
    level)."""
    log = tmp_path / "records.txt"
    worker = start()
    publisher = setup[1].publisher("work")
    began = time.monotonic()
    publisher.publish({"id": 1}, routing_key="fast", delay=6)
    publisher.publish({"id": 2}, routing_key="fast", delay=3 * 86400)
    waiting = [delays.level_queue(2), delays.level_queue(17)]  # 6 = 4 + 2; 3 days = 2**17 + ..
    assert {name: ready for name, (ready, _) in queue_state(mserve_url, waiting).items()} == {
        name: 1 for name in waiting
    }
    try:
        private_node.stop_app()
    finally:
        private_node.start_app()
        wait_until(lambda: broker_accepts(mserve_url), what="the broker accepting again")

    wait_until(all_done(log, {"1"}), timeout=60, what="the delayed message done")
    assert time.monotonic() - began >= 6
    assert records(log) == ["1"]
    assert queue_state(mserve_url, [delays.level_queue(17)])[delays.level_queue(17)][0] == 1
    assert worker.process.poll() is None, "the worker survived"
