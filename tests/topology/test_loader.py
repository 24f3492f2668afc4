"""Loading a valid topology: the model it builds, its defaults and its normalisation."""

from __future__ import annotations

from pathlib import Path

import pytest

from mqwire.topology import Route, TopologyErrors, load_topology, load_topology_file
from mqwire.topology.model import DEFAULT_PREFETCH, Tls

CASES = Path(__file__).parent.parent / "compiler" / "cases"

MINIMAL = """\
version: 1
publisher_consumers:
  jobs: {prefix: jobs.mq, transport: local}
queues:
  jobs: {consumer: jobs}
tasks:
  run: {task: app.jobs:run, queue: jobs}
"""


def test_issue_example_builds_the_expected_model() -> None:
    topology = load_topology_file(CASES / "issue_example" / "topology.yaml")
    assert list(topology.queues) == ["cart", "lots.audit", "lots.election", "lots.mail"]
    lots = topology.publisher_consumers["lots"]
    assert lots.exchange == "ticketing.lots"
    # lots.election: lots.election is implied by the queue's own name, so it is not kept.
    assert lots.routes == (Route("lots.#", "lots.audit"), Route("lots.*.mail", "lots.mail"))
    election = topology.queues["lots.election"]
    assert election.arguments == {"x-max-priority": 10}
    assert election.retry is not None and election.retry.delays == (1.0, 5.0, 30.0)
    assert election.retry_queues == (
        (1.0, "lots.election.retry.1s"),
        (5.0, "lots.election.retry.5s"),
        (30.0, "lots.election.retry.30s"),
    )
    assert topology.tasks["release_cart"].root_factory == "ticketing.resources:CartResource"
    assert topology.tasks["release_cart"].timeout == 30.0
    # Placeholders stay verbatim: the runtime resolves them.
    assert topology.connections["main"].url == "${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2F}"


def test_defaults_are_durable_queues_and_a_fair_prefetch() -> None:
    topology = load_topology(MINIMAL)
    queue = topology.queues["jobs"]
    assert (queue.durable, queue.exclusive, queue.auto_delete) == (True, False, False)
    assert queue.prefetch == DEFAULT_PREFETCH
    assert queue.dead_letter_queue == "jobs.dead"
    assert topology.publisher_consumers["jobs"].continue_on_exception is False


def test_effective_routes_add_each_consumed_queue_by_name() -> None:
    topology = load_topology_file(CASES / "issue_example" / "topology.yaml")
    assert [(r.pattern, r.queue) for r in topology.effective_routes("lots")] == [
        ("lots.#", "lots.audit"),
        ("lots.*.mail", "lots.mail"),
        ("lots.audit", "lots.audit"),
        ("lots.election", "lots.election"),
        ("lots.mail", "lots.mail"),
    ]


def test_model_is_immutable() -> None:
    topology = load_topology(MINIMAL)
    with pytest.raises(TypeError):
        topology.queues["other"] = topology.queues["jobs"]  # type: ignore[index]
    with pytest.raises(AttributeError):
        topology.version = 2  # type: ignore[misc]


def test_errors_carry_structured_locations() -> None:
    with pytest.raises(TopologyErrors) as caught:
        load_topology(MINIMAL.replace("queue: jobs}", "queue: jbos}"), source_name="t.yaml")
    (error,) = caught.value.errors
    assert (error.location.source, error.location.line, error.location.column) == ("t.yaml", 7, 36)
    assert error.json_path == "$.tasks.run.queue"
    assert error.hint == "did you mean 'jobs'?"


def test_literal_password_is_allowed_only_when_asked() -> None:
    text = MINIMAL.replace(
        "publisher_consumers:", "connections:\n  c: {url: 'amqp://u:pw@h/'}\npublisher_consumers:"
    )
    with pytest.raises(TopologyErrors):
        load_topology(text)
    assert load_topology(text, allow_literal_password=True).connections["c"].url == "amqp://u:pw@h/"


def test_unverified_tls_is_allowed_only_when_asked() -> None:
    text = MINIMAL.replace(
        "publisher_consumers:",
        "connections:\n  c: {url: 'amqps://h/', tls: {verify: false}}\npublisher_consumers:",
    )
    with pytest.raises(TopologyErrors) as refused:
        load_topology(text)
    assert "pass --allow-unverified-tls" in str(refused.value)
    assert load_topology(text, allow_unverified_tls=True).connections["c"].tls == Tls(verify=False)
