"""A quorum topology on the real broker: ``defaults:`` make every queue a quorum queue, ``mserve``
declares its retry and dead-letter queues as quorum queues (retries back at least once), and
poison messages end in the dead-letter queue with their headers, whichever way they fail.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pika  # type: ignore[import-untyped]
import pytest
import topology_setup as wiring
from mserve_harness import Mserve, get_all, publish_ids, records, vhost_of, wait_until

from mqwire.runtime import load
from mqwire.runtime.errors import ExitCode
from mqwire.runtime.ops.mqctl import main as mqctl_main
from mqwire.topology.declarations import QUORUM_RETRY_ARGUMENTS, Declarations

pytestmark = pytest.mark.broker

TOPOLOGY = """\
version: 1
defaults:
  queues:
    arguments: {x-queue-type: quorum}
connections:
  main: {url: "${AMQP_URL}", heartbeat: 30}
publisher_consumers:
  work: {prefix: work.mq, transport: amqp, connection: main}
queues:
  flaky:
    consumer: work
    retry: {delays: [0.05, 0.1]}
    arguments:
      x-delivery-limit: 2
      x-dead-letter-exchange: ""
      x-dead-letter-routing-key: flaky.dead
      x-overflow: reject-publish
      x-dead-letter-strategy: at-least-once
tasks:
  fail_when_bad: {task: "mserve_app:fail_when_bad", queue: flaky}
"""


def broker_queues(rabbitmqctl: Callable[..., str], vhost: str) -> dict[str, tuple[str, str]]:
    """(type, arguments as rabbitmqctl prints them) per queue of ``vhost``."""
    out = rabbitmqctl("list_queues", "-p", vhost, "--no-table-headers", "name", "type", "arguments")
    rows = (line.split("\t") for line in out.splitlines() if line)
    return {name: (kind, arguments) for name, kind, arguments in rows}


def reject(url: str, queue: str, times: int) -> None:
    """Take the one message of ``queue`` and requeue it (``basic.reject``) ``times`` times, as
    a worker that crashes on it would."""
    with pika.BlockingConnection(pika.URLParameters(url)) as connection:
        channel = connection.channel()
        for _ in range(times):
            method, _, _ = wait_until(lambda: channel.basic_get(queue), what="the message back")
            channel.basic_reject(method.delivery_tag, requeue=True)


def test_a_quorum_topology_keeps_its_poison_messages(
    tmp_path: Path,
    fresh_vhost_url: str,
    mserve: Callable[..., Mserve],
    rabbitmqctl: Callable[..., str],
) -> None:
    ini = wiring.compile_into(tmp_path, TOPOLOGY)
    registry = load(ini, environ={"AMQP_URL": fresh_vhost_url})
    try:
        wiring.declare(fresh_vhost_url, registry)  # mserve then declares again: idempotent
        crashing = publish_ids(registry, "flaky", range(0, 1), bad=True)
        # A message its worker never settles (a crash loop): the delivery limit dead-letters it.
        reject(fresh_vhost_url, "flaky", 3)  # x-delivery-limit: 2, so the third is its last
        (crashed,) = wait_until(lambda: get_all(fresh_vhost_url, "flaky.dead"), what="dead")
        death = crashed[0].headers["x-death"][0]
        assert (death["queue"], death["reason"]) == ("flaky", "delivery_limit")
        assert json.loads(crashed[1])["id"] == int(next(iter(crashing)))

        mserve(ini, fresh_vhost_url)
        queues = broker_queues(rabbitmqctl, vhost_of(fresh_vhost_url))
        assert sorted(queues) == ["flaky", "flaky.dead", "flaky.retry.100ms", "flaky.retry.50ms"]
        assert {kind for kind, _ in queues.values()} == {"quorum"}
        for retry in ("flaky.retry.50ms", "flaky.retry.100ms"):
            assert '{"x-dead-letter-strategy","at-least-once"}' in queues[retry][1]
            assert '{"x-overflow","reject-publish"}' in queues[retry][1]

        # A message its task refuses: retried through the quorum retry queues, then kept.
        good = publish_ids(registry, "flaky", range(1, 4))
        bad = publish_ids(registry, "flaky", range(4, 5), bad=True)
        (dead,) = wait_until(lambda: get_all(fresh_vhost_url, "flaky.dead"), what="dead letter")
        assert str(json.loads(dead[1])["id"]) in bad
        headers = dead[0].headers
        assert headers["x-mqwire-exception"] == "ValueError"
        assert headers["x-mqwire-attempts"] == 3
        assert headers["x-mqwire-queue"] == "flaky"
        assert sorted(records(tmp_path / "records.txt", "failed")) == sorted([*bad] * 3)
        assert set(records(tmp_path / "records.txt")) == good
    finally:
        registry.close()


def test_failure_queues_left_classic_by_an_earlier_mqwire_are_found_and_replaced(
    tmp_path: Path,
    fresh_vhost_url: str,
    mserve: Callable[..., Mserve],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Before this release a quorum queue's retry and dead-letter queues were classic: the broker
    refuses them as quorum queues (406), ``mqctl verify`` names them, and deleting them (the
    documented upgrade step) lets the worker declare them anew."""
    ini = wiring.compile_into(tmp_path, TOPOLOGY)
    registry = load(ini, environ={"AMQP_URL": fresh_vhost_url})
    plan = wiring.plan(registry)
    registry.close()
    classic = set(QUORUM_RETRY_ARGUMENTS)  # what the failure queues were declared without
    earlier = Declarations(
        queues=tuple(
            q._replace(arguments={k: v for k, v in q.arguments.items() if k not in classic})
            if q.name != "flaky"
            else q
            for q in plan.queues
        )
    )
    wiring.apply(fresh_vhost_url, earlier)
    monkeypatch.setenv("AMQP_URL", fresh_vhost_url)
    capsys.readouterr()
    code = mqctl_main([str(ini), "verify", "--json", "--no-management"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    differs = {f["name"] for f in report["findings"] if f["state"] == "differs"}
    assert differs == {"flaky.dead", "flaky.retry.50ms", "flaky.retry.100ms"}

    refused = mserve(ini, fresh_vhost_url, wait=False)
    assert refused.wait() == ExitCode.TOPOLOGY_MISMATCH
    with pika.BlockingConnection(pika.URLParameters(fresh_vhost_url)) as connection:
        channel = connection.channel()
        for name in sorted(differs):  # empty here; in production: drain, replay, then delete
            channel.queue_delete(name)
    mserve(ini, fresh_vhost_url)
