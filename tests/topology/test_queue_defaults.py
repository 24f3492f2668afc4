"""Topology-wide queue defaults, and the failure queues a quorum queue gets (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mqwire.topology import TopologyErrors, load_topology
from mqwire.topology.argument_checks import check_arguments, check_queue_flags
from mqwire.topology.declarations import (
    QueueDeclaration,
    Routing,
    declarations,
    failure_queue_declarations,
)
from mqwire.topology.model import Queue, Retry, Topology

HEAD = (
    "version: 1\n"
    "publisher_consumers:\n"
    "  jobs: {prefix: jobs.mq, transport: local}\n"
)  # fmt: skip

QUORUM_DEFAULTS = "defaults: {queues: {arguments: {x-queue-type: quorum, x-max-length: 1000}}}\n"


def load(text: str) -> Topology:
    return load_topology(HEAD + text, scanner=None)


def errors_of(text: str) -> list[str]:
    with pytest.raises(TopologyErrors) as info:
        load(text)
    return [str(e) for e in info.value.errors]


def plan_of(topology: Topology) -> dict[str, QueueDeclaration]:
    routing = [Routing(n, None, topology.effective_routes(n)) for n in topology.publisher_consumers]
    return {q.name: q for q in declarations(routing, topology.queues).queues}


def test_every_queue_takes_the_defaults_and_overrides_them_key_by_key() -> None:
    topology = load(
        QUORUM_DEFAULTS + "queues:\n"
        "  plain: {consumer: jobs}\n"
        "  longer: {consumer: jobs, arguments: {x-max-length: 5}}\n"
        "  old: {consumer: jobs, arguments: {x-queue-type: classic, x-max-priority: 3}}\n"
    )
    queues = topology.queues
    assert dict(queues["plain"].arguments) == {"x-max-length": 1000, "x-queue-type": "quorum"}
    assert dict(queues["longer"].arguments) == {"x-max-length": 5, "x-queue-type": "quorum"}
    assert dict(queues["old"].arguments) == {
        "x-max-length": 1000,
        "x-max-priority": 3,
        "x-queue-type": "classic",
    }
    assert queues["old"].queue_type == "classic"


def test_without_defaults_a_queue_has_only_its_own_arguments() -> None:
    topology = load("queues:\n  q: {consumer: jobs, arguments: {x-max-length: 5}}\n")
    assert dict(topology.queues["q"].arguments) == {"x-max-length": 5}


def test_defaults_section_is_checked_by_the_schema() -> None:
    (error,) = errors_of("defaults: {queue: {}}\nqueues:\n  q: {consumer: jobs}\n")
    assert "unknown key 'queue'" in error
    assert "did you mean 'queues'" in error


def test_a_bad_default_is_reported_once_where_it_is_written() -> None:
    errors = errors_of(
        "defaults: {queues: {arguments: {x-message-ttl: '1h', maxLength: 5}}}\n"
        "queues:\n  a: {consumer: jobs}\n  b: {consumer: jobs}\n"
    )
    assert len(errors) == 2
    assert all("$.defaults.queues.arguments" in e for e in errors)


def test_a_default_that_does_not_fit_a_queue_is_reported_at_that_queue() -> None:
    errors = errors_of(
        "defaults: {queues: {arguments: "
        "{x-queue-type: quorum, x-delivery-limit: 5, x-dead-letter-exchange: '',"
        " x-dead-letter-routing-key: fine.dead}}}\n"
        "queues:\n"
        "  fine: {consumer: jobs}\n"
        "  old: {consumer: jobs, arguments: {x-queue-type: classic}}\n"
    )
    (error,) = errors
    assert "'x-delivery-limit' is not supported by classic queues" in error
    assert "(at $.queues.old)" in error
    assert "comes from defaults.queues.arguments" in error


def test_a_flag_refused_under_the_default_type_names_the_default() -> None:
    (error,) = errors_of(QUORUM_DEFAULTS + "queues:\n  mine: {consumer: jobs, exclusive: true}\n")
    assert "quorum queues cannot be exclusive" in error
    assert "x-queue-type: quorum comes from defaults.queues.arguments" in error
    assert "(see topology.yaml:4:" in error  # the default's own place, as related


# --- The failure queues of a quorum queue.


def test_a_quorum_queue_gets_quorum_retry_queues_that_retry_at_least_once() -> None:
    topology = load(QUORUM_DEFAULTS + "queues:\n  q: {consumer: jobs, retry: {delays: [1]}}\n")
    plan = plan_of(topology)
    assert plan["q.retry.1s"].arguments == {
        "x-queue-type": "quorum",
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
        "x-message-ttl": 1000,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": "q",
    }
    assert plan["q.dead"] == QueueDeclaration("q.dead", arguments={"x-queue-type": "quorum"})


def test_quorum_failure_queues_copy_the_initial_group_size_of_their_queue() -> None:
    """As many replicas as their queue, whether it writes the size or takes the default."""
    topology = load(
        "defaults: {queues: {arguments: {x-queue-type: quorum, x-quorum-initial-group-size: 3}}}\n"
        "queues:\n"
        "  a: {consumer: jobs, retry: {delays: [1]}}\n"
        "  b: {consumer: jobs, arguments: {x-quorum-initial-group-size: 5}}\n"
        "  c: {consumer: jobs, arguments: {x-quorum-initial-group-size: null}}\n"
    )
    plan = plan_of(topology)
    assert plan["a.retry.1s"].arguments == {
        "x-queue-type": "quorum",
        "x-quorum-initial-group-size": 3,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
        "x-message-ttl": 1000,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": "a",
    }
    assert plan["a.dead"].arguments == {"x-queue-type": "quorum", "x-quorum-initial-group-size": 3}
    assert plan["b.dead"].arguments == {"x-queue-type": "quorum", "x-quorum-initial-group-size": 5}
    assert plan["c.dead"].arguments == {"x-queue-type": "quorum"}


def test_a_classic_queue_keeps_classic_failure_queues() -> None:
    queue = Queue("q", retry=Retry((1.0,)))
    retry, dead = failure_queue_declarations(queue)
    assert "x-queue-type" not in retry.arguments
    assert dead == QueueDeclaration("q.dead")


def test_a_dead_letter_queue_of_the_topology_is_declared_as_written_there() -> None:
    """The explicit way to keep a classic dead-letter queue under quorum defaults; and the
    same declaration whichever queue the plan meets first."""
    topology = load(
        QUORUM_DEFAULTS + "queues:\n"
        "  a: {consumer: jobs, dead_letter_queue: z.failed}\n"
        "  z.failed: {arguments: {x-queue-type: classic, x-max-length: 10}}\n"
    )
    plan = plan_of(topology)
    assert plan["z.failed"].arguments == {"x-queue-type": "classic", "x-max-length": 10}
    assert plan["a"].arguments == {"x-queue-type": "quorum", "x-max-length": 1000}


@pytest.mark.parametrize(
    "arguments",
    [
        {"x-queue-type": "classic"},
        {"x-queue-type": "quorum"},
        {"x-queue-type": "quorum", "x-quorum-initial-group-size": 3},
    ],
)
def test_every_failure_queue_passes_the_argument_checks(arguments: dict[str, object]) -> None:
    queue = Queue("q", arguments=arguments, retry=Retry((0.5, 2.0)))
    for declaration in failure_queue_declarations(queue):
        assert check_arguments(declaration.arguments) == []
        flags = {"durable": True, "exclusive": False, "auto_delete": False}
        assert check_queue_flags(arguments=declaration.arguments, **flags) == []


def test_null_removes_a_default_and_is_refused_elsewhere() -> None:
    topology = load(
        QUORUM_DEFAULTS + "queues:\n  q: {consumer: jobs, arguments: {x-max-length: null}}\n"
    )
    assert dict(topology.queues["q"].arguments) == {"x-queue-type": "quorum"}
    (error,) = errors_of("queues:\n  q: {consumer: jobs, arguments: {x-max-length: null}}\n")
    assert "'x-max-length' must be an integer >= 0, not None" in error


def test_the_documented_example_means_what_docs_say() -> None:
    """docs/topology.md's `defaults` example, as written there."""
    page = (Path(__file__).resolve().parents[2] / "docs" / "topology.md").read_text()
    section = page.split("## `defaults`", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    topology = load_topology(
        "version: 1\npublisher_consumers: {shop: {prefix: shop.mq, transport: local}}\n" + example,
        scanner=None,
    )
    types = {name: queue.queue_type for name, queue in topology.queues.items()}
    assert types == {"orders": "quorum", "sessions": "classic", "cache": "classic"}
    assert "x-queue-type" not in topology.queues["cache"].arguments


# --- Dead letters through the default exchange go to a queue the topology declares.


def test_a_default_dead_letter_key_naming_no_queue_is_reported_at_each_queue_it_reaches() -> None:
    errors = errors_of(
        "defaults: {queues: {arguments: "
        "{x-dead-letter-exchange: '', x-dead-letter-routing-key: graveyard}}}\n"
        "queues:\n  a: {consumer: jobs}\n  b: {consumer: jobs}\n"
        "  c: {consumer: jobs, arguments: {x-dead-letter-exchange: dlx}}\n"
    )
    assert len(errors) == 2, "all at once; c's own exchange routes by its bindings"
    for queue, error in zip("ab", errors, strict=True):
        assert "'x-dead-letter-routing-key' 'graveyard' names no queue of the topology" in error
        assert f"such as its dead-letter queue '{queue}.dead'" in error
        assert "x-dead-letter-routing-key: graveyard comes from defaults.queues.arguments" in error
        assert f"(at $.queues.{queue})" in error


def test_the_default_exchange_may_dead_letter_to_any_queue_mqwire_declares() -> None:
    dlx = "x-dead-letter-exchange: ''"
    topology = load(
        "queues:\n"
        f"  a: {{consumer: jobs, retry: {{delays: [5]}}, arguments: {{{dlx}, "
        "x-dead-letter-routing-key: a.dead}}\n"
        f"  b: {{consumer: jobs, dead_letter_queue: parked, arguments: {{{dlx}, "
        "x-dead-letter-routing-key: parked}}\n"
        f"  c: {{consumer: jobs, arguments: {{{dlx}, x-dead-letter-routing-key: a.retry.5s}}}}\n"
        f"  d: {{consumer: jobs, arguments: {{{dlx}, x-dead-letter-routing-key: a}}}}\n"
    )
    keys = {q.name: q.arguments["x-dead-letter-routing-key"] for q in topology.queues.values()}
    assert keys == {"a": "a.dead", "b": "parked", "c": "a.retry.5s", "d": "a"}
