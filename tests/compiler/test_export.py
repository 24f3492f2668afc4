"""``mq-compile export``: golden definitions for the example, and a real import_definitions."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

import pytest
from tool_example import EXAMPLE, check_golden, load_example

from mqwire.compiler import cli
from mqwire.compiler.export import definitions, exclusive_queues, export_definitions
from mqwire.topology import delays, load_topology
from mqwire.topology.model import retry_queue_name


def test_example_exports_golden_definitions() -> None:
    check_golden("ticketing/definitions.json", export_definitions(load_example()))


def test_export_is_sorted_and_targets_the_vhost() -> None:
    doc = definitions(load_example(), "staging")
    for kind in ("exchanges", "queues", "bindings"):
        assert doc[kind] and {item["vhost"] for item in doc[kind]} == {"staging"}
    names = [q["name"] for q in doc["queues"]]
    assert names == sorted(names)
    assert "lots.election.retry.5s" in names and "lots.election.dead" in names
    assert not [n for n in names if n.startswith(delays.PREFIX)]  # no `delays: true`


def test_with_delays_the_ladder_is_exported_and_binds_each_queue_for_delayed_publishes() -> None:
    example = load_example()
    doc = definitions(dataclasses.replace(example, delays=True))
    names = [q["name"] for q in doc["queues"]]
    # cart has no exchange: its queue is declared, bound only for delayed publishes.
    cart = [b for b in doc["bindings"] if b["destination"] == "cart"]
    assert "cart" in names and [b["source"] for b in cart] == [delays.DELIVERY_EXCHANGE]
    ladder = [b for b in doc["bindings"] if b["destination_type"] == "exchange"]
    assert len(ladder) == delays.LEVELS
    assert len([n for n in names if n.startswith(delays.PREFIX)]) == delays.LEVELS


def test_quorum_defaults_reach_the_export_with_the_failure_queues() -> None:
    case = Path(__file__).parent / "cases" / "quorum_defaults" / "topology.yaml"
    doc = definitions(load_topology(case.read_text(), scanner=None))
    types = {q["name"]: q["arguments"].get("x-queue-type", "classic") for q in doc["queues"]}
    types = {name: kind for name, kind in types.items() if not name.startswith(delays.PREFIX)}
    assert types == {
        "orders.audit": "quorum",
        "orders.audit.dead": "quorum",
        "orders.cache": "classic",
        "orders.cache.dead": "classic",
        "orders.placed": "quorum",
        "orders.placed.dead": "quorum",
        "orders.placed.retry.1s": "quorum",
        "orders.placed.retry.30s": "quorum",
    }


def test_local_and_exclusive_queues_are_left_out() -> None:
    topology = load_topology(
        """\
version: 1
publisher_consumers:
  dev: {prefix: dev.mq, transport: local}
  live: {prefix: live.mq, transport: amqp, connection: c, exchange: x, routes: {"a.#": q}}
connections: {c: {url: "amqp://localhost/"}}
queues:
  d: {consumer: dev}
  q: {consumer: live}
  e: {consumer: live, exclusive: true}
""",
        scanner=None,
    )
    names = [q["name"] for q in definitions(topology)["queues"]]
    names = [n for n in names if not n.startswith(delays.PREFIX)]
    assert names == ["e.dead", "q", "q.dead"]  # e is exclusive; its dead-letter queue is not
    assert exclusive_queues(topology) == ("e",)


def test_cli_writes_the_file(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    target = tmp_path / "defs.json"
    argv = ["export", str(EXAMPLE / "topology.yaml"), "-o", str(target)]
    assert cli.run(argv, stdout=out, stderr=err) == 0, err.getvalue()
    assert json.loads(target.read_text(encoding="utf-8")) == definitions(load_example())


@pytest.mark.broker
def test_rabbitmq_imports_the_export(
    amqp_url: str,
    rabbitmqctl: Callable[..., str],
    fresh_vhost_url: str,
) -> None:
    vhost = unquote(fresh_vhost_url.rsplit("/", 1)[1])
    topology = load_example()
    expected = {q["name"] for q in definitions(topology, vhost)["queues"]}
    # The broker node may read the file itself: put it where its user can (not in tmp_path).
    with tempfile.TemporaryDirectory() as folder:
        os.chmod(folder, 0o755)
        path = Path(folder) / "definitions.json"
        path.write_text(export_definitions(topology, vhost), encoding="utf-8")
        path.chmod(0o644)
        rabbitmqctl("import_definitions", str(path))

    def listed_queues() -> dict[str, str]:
        return dict(
            line.split("\t", 1)
            for line in rabbitmqctl("list_queues", "-p", vhost, "name", "arguments").splitlines()
            if "\t" in line and not line.startswith("name\t")
        )

    deadline = time.monotonic() + 30  # the import runs asynchronously on the node
    while set(queues := listed_queues()) != expected and time.monotonic() < deadline:
        time.sleep(0.2)
    assert set(queues) == expected
    assert "x-max-priority" in queues["lots.election"]
    retry = queues[retry_queue_name("lots.election", 30)]
    assert "x-message-ttl" in retry and "30000" in retry and "lots.election" in retry

    listed = rabbitmqctl(
        "list_bindings", "-p", vhost, "source_name", "destination_name", "routing_key"
    )
    bindings = {
        tuple(line.split("\t"))
        for line in listed.splitlines()
        if line.count("\t") == 2 and line.split("\t")[0] == "ticketing.lots"
    }
    assert bindings == {
        ("ticketing.lots", b["destination"], b["routing_key"])
        for b in definitions(topology, vhost)["bindings"]
        if b["source"] == "ticketing.lots"
    }
