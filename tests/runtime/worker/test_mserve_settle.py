"""``mserve`` when a failed message's copy cannot be published: its task never runs hot.

Queue ``flaky`` retries twice (0.05 s, 0.1 s), so a poison message may run three times, then
is dead-lettered to ``flaky.dead``. Each test breaks that dead-letter queue in its own vhost
(deleted, or refusing every message by policy), publishes one poison message, and counts the
task's runs in the record file: before, a refused copy requeued the input at once, and the
task ran thousands of times.
"""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pika  # type: ignore[import-untyped]
import pytest
from mserve_harness import (
    Mserve,
    consumers_of,
    get_all,
    publish_ids,
    queue_state,
    ready_in,
    records,
    unacked,
    vhost_of,
    wait_until,
)

from mqwire.runtime import Registry
from mqwire.runtime.errors import ExitCode

pytestmark = pytest.mark.broker

Ctl = Callable[..., str]

#: Runs the retry policy of ``flaky`` allows one message: the first and two retries.
ALLOWED_RUNS = 3


def within_policy(log: Path, condition: Callable[[], object]) -> Callable[[], object]:
    """``condition``, failing at once when the task ran more often than its policy allows."""

    def check() -> object:
        runs = len(records(log, "failed"))
        assert runs <= ALLOWED_RUNS, f"the task ran {runs} times, {ALLOWED_RUNS} allowed"
        return condition()

    return check


def test_a_deleted_dead_letter_queue_is_redeclared_and_the_task_runs_within_its_policy(
    setup: tuple[Path, Registry], start: Callable[..., Mserve], fresh_vhost_url: str,
    tmp_path: Path, rabbitmqctl: Ctl,
) -> None:  # fmt: skip
    log = tmp_path / "records.txt"
    worker = start()
    with pika.BlockingConnection(pika.URLParameters(fresh_vhost_url)) as connection:
        connection.channel().queue_delete("flaky.dead")
    assert ready_in(fresh_vhost_url, "flaky.dead") is None
    began = time.monotonic()
    (poison,) = publish_ids(setup[1], "flaky", range(1), bad=True)
    wait_until(
        within_policy(log, lambda: ready_in(fresh_vhost_url, "flaky.dead") == 1),
        what="one dead letter",
    )
    seconds = time.monotonic() - began
    wait_until(lambda: unacked(rabbitmqctl, vhost_of(fresh_vhost_url))["flaky"] == 0, what="ack")
    runs = records(log, "failed")
    dead = get_all(fresh_vhost_url, "flaky.dead")
    print(f"\ndeleted dead-letter queue: {len(runs)} task run(s), {len(dead)} dead letter(s), "
          f"{seconds:.2f} s to the dead letter")  # fmt: skip
    assert runs == [poison] * ALLOWED_RUNS
    assert len(dead) == 1 and dead[0][0].headers["x-mqwire-attempts"] == ALLOWED_RUNS
    assert "the queue 'flaky.dead' was missing: redeclared it" in worker.output()
    assert queue_state(fresh_vhost_url, ["flaky"])["flaky"] == (0, 1), "still consumed"
    assert records(log, "failed") == runs, "nothing ran after the dead letter"


def test_a_dead_letter_queue_refusing_every_copy_parks_its_queue_and_keeps_the_message(
    setup: tuple[Path, Registry], start: Callable[..., Mserve], fresh_vhost_url: str,
    tmp_path: Path, rabbitmqctl: Ctl,
) -> None:  # fmt: skip
    log, vhost = tmp_path / "records.txt", vhost_of(fresh_vhost_url)
    rabbitmqctl(
        "set_policy", "-p", vhost, "--apply-to", "queues", "refuse-dead-letters",
        r"^flaky\.dead$", '{"max-length": 0, "overflow": "reject-publish"}',
    )  # fmt: skip
    worker = start()
    began = time.monotonic()
    (poison,) = publish_ids(setup[1], "flaky", range(1), bad=True)
    wait_until(
        within_policy(log, lambda: consumers_of(fresh_vhost_url, "flaky") == 0),
        what="flaky parked",
    )
    seconds = time.monotonic() - began
    status, reason = worker.http_get("/readyz")
    assert status == 503 and f"parked flaky: message {parked_id(worker)}" in reason, reason
    assert "'flaky.dead'" in reason and "PublishNacked" in reason
    assert unacked(rabbitmqctl, vhost)["flaky"] == 1, "held by the worker, unacked"
    runs = records(log, "failed")
    output = worker.output()
    assert "PARKED queue 'flaky'" in output
    assert consumers_of(fresh_vhost_url, "fast") == 1, "the other queues are still consumed"
    worker.signal(signal.SIGTERM)
    assert worker.wait() == ExitCode.OK
    wait_until(lambda: ready_in(fresh_vhost_url, "flaky") == 1, what="the message back, ready")
    print(f"\nrefusing dead-letter queue: {len(runs)} task run(s), parked after {seconds:.2f} s, "
          f"{output.count('copying message')} copy attempt(s) retried, 1 message kept")  # fmt: skip
    assert runs == [poison] * ALLOWED_RUNS
    assert records(log, "failed") == runs, "nothing ran again"
    assert ready_in(fresh_vhost_url, "flaky.dead") == 0


def parked_id(worker: Mserve) -> str:
    """The message id the worker logged as parked."""
    found = re.search(r"PARKED queue 'flaky': message (\S+)", worker.output())
    assert found, "the park is logged"
    return found[1]
