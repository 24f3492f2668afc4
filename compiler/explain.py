"""Where a routing key goes, and a lint of the whole topology. Pure: model in, data and text out.

`explain_key` answers "who receives ``lots.42.mail``?" per publisher_consumer, through the
same matcher the local transport uses (`RouteTable`). `lint` finds what a reviewer should
not have to spot by eye; each `Finding` names its place as a YAML path into the topology
file, which the CLI turns into ``file:line`` when the file has that path.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass

from mqwire.topology.consumer_timeout import (
    DEFAULT_CONSUMER_TIMEOUT,
    broker_timeout,
    timeout_problem,
)
from mqwire.topology.model import Route, Topology
from mqwire.topology.routing import HASH, STAR, RouteTable, topic_matches

__all__ = ["DEFAULT_CONSUMER_TIMEOUT", "Finding", "explain_key", "lint", "render_explanation"]

#: A YAML path into the topology file: mapping keys (and list indexes).
YamlPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Reach:
    """One queue a key reaches, the patterns that take it there and the task that runs."""

    queue: str
    patterns: tuple[str, ...]
    task: str | None
    consumer: str | None = None  #: its ``consumer:``; None: another system's queue


@dataclass(frozen=True)
class PublisherReach:
    publisher: str
    exchange: str | None  # None: the default exchange (the key names the queue)
    reaches: tuple[Reach, ...]


def explain_key(
    topology: Topology, routing_key: str, publisher: str | None = None
) -> tuple[PublisherReach, ...]:
    """Per publisher_consumer (or just ``publisher``), the queues ``routing_key`` reaches."""
    names = [publisher] if publisher is not None else sorted(topology.publisher_consumers)
    result = []
    for name in names:
        pc = topology.publisher_consumers[name]
        by_queue: dict[str, list[str]] = defaultdict(list)
        if pc.exchange:
            for route in RouteTable(topology.effective_routes(name)).routes_for(routing_key):
                by_queue[route.queue].append(route.pattern)
        elif routing_key in topology.queues:  # the default exchange routes by queue name
            by_queue[routing_key].append(routing_key)
        reaches = tuple(
            Reach(
                queue,
                tuple(sorted(patterns)),
                _task_name(topology, queue),
                _consumer(topology, queue),
            )
            for queue, patterns in sorted(by_queue.items())
        )
        result.append(PublisherReach(name, pc.exchange, reaches))
    return tuple(result)


def render_explanation(routing_key: str, reaches: tuple[PublisherReach, ...]) -> str:
    lines = [f"routing key {routing_key!r}"]
    for item in reaches:
        through = f"exchange {item.exchange}" if item.exchange else "the default exchange"
        lines.append(f"  published by {item.publisher} (through {through}):")
        if not item.reaches:
            lines.append("    reaches no queue: publish() raises Unroutable (mandatory)")
        for reach in item.reaches:
            task = f"task {reach.task}" if reach.task else _taskless(reach)
            patterns = ", ".join(reach.patterns)
            lines.append(f"    -> queue {reach.queue} via {patterns}; {task}")
    return "\n".join(lines) + "\n"


def _taskless(reach: Reach) -> str:
    """What happens to a message of a queue without a task (mqctl apply declares it too)."""
    if reach.consumer:
        return "no task (mserve dead-letters it)"
    return "no task, no consumer (the broker holds it for another system)"


def _consumer(topology: Topology, queue: str) -> str | None:
    model = topology.queues.get(queue)
    return None if model is None else model.consumer


def _task_name(topology: Topology, queue: str) -> str | None:
    task = topology.task_for_queue(queue)
    return None if task is None else task.name


@dataclass(frozen=True, order=True)
class Finding:
    """One lint finding: where (a YAML path), what kind, and what to do about it."""

    path: YamlPath
    code: str
    message: str


def lint(topology: Topology, consumer_timeout: float | None = None) -> list[Finding]:
    """Every finding, sorted by place: an empty list means the topology is clean.

    ``consumer_timeout`` overrides the broker's (a connection's ``consumer_timeout:``, else
    RabbitMQ's default) for every task.
    """
    findings = [
        *_unreachable_queues(topology),
        *_redundant_patterns(topology),
        *_queues_without_tasks(topology),
        *_long_timeouts(topology, consumer_timeout),
        *_at_most_once_dead_letters(topology),
    ]
    return sorted(set(findings))


def _at_most_once_dead_letters(topology: Topology) -> list[Finding]:
    """Quorum queues the broker dead-letters from at most once (the strategy's default)."""
    return [
        Finding(
            ("queues", name, "arguments"),
            "at-most-once-dead-letters",
            f"quorum queue {name} dead-letters at most once: a message RabbitMQ dead-letters "
            "(delivery limit, TTL, length) is lost when the target is unavailable; add "
            "x-dead-letter-strategy: at-least-once and x-overflow: reject-publish",
        )
        for name, queue in topology.queues.items()
        if queue.queue_type == "quorum"
        and "x-dead-letter-exchange" in queue.arguments
        and queue.arguments.get("x-dead-letter-strategy") != "at-least-once"
    ]


def _unreachable_queues(topology: Topology) -> list[Finding]:
    """Queues no publisher_consumer routes to and no other queue dead-letters to."""
    reached = {
        r.queue for name in topology.publisher_consumers for r in topology.effective_routes(name)
    }
    reached.update(q.dead_letter_queue for q in topology.queues.values())
    return [
        Finding(
            ("queues", name),
            "unreachable-queue",
            f"queue {name} is unreachable: no publisher_consumer has a route to it and none "
            "consumes it; add a route or remove the queue",
        )
        for name in topology.queues
        if name not in reached
    ]


def _redundant_patterns(topology: Topology) -> list[Finding]:
    """Per exchange and queue: repeated bindings, and patterns another one already covers."""
    # (publisher, route, explicit) per exchange and queue; implicit own-name bindings first,
    # so an explicit route repeating one is the duplicate.
    bindings: dict[tuple[str, str], list[tuple[str, Route, bool]]] = defaultdict(list)
    for name, pc in topology.publisher_consumers.items():
        if pc.exchange:
            consumed = sorted(q.name for q in topology.queues.values() if q.consumer == name)
            implicit = [Route(queue, queue) for queue in consumed]
            for route, explicit in [
                *((r, False) for r in implicit),
                *((r, True) for r in pc.routes),
            ]:
                entry = (name, route, explicit)
                if entry not in bindings[(pc.exchange, route.queue)]:
                    bindings[(pc.exchange, route.queue)].append(entry)
    findings = []
    for (exchange, queue), routes in sorted(bindings.items()):
        for index, (pc_a, a, explicit) in enumerate(routes):
            if not explicit:
                continue  # an implicit own-name binding cannot be removed: not a finding
            path = ("publisher_consumers", pc_a, "routes", a.pattern)
            same = [
                pc_b if was_explicit else f"{pc_b} consuming the queue"
                for pc_b, b, was_explicit in routes[:index]
                if b.pattern == a.pattern
            ]
            if same:
                findings.append(
                    Finding(
                        path,
                        "duplicate-pattern",
                        f"pattern {a.pattern} -> {queue} on exchange {exchange} is bound "
                        f"already (by {same[0]}); remove one",
                    )
                )
                continue
            wider = sorted(
                {
                    b.pattern
                    for _, b, _ in routes
                    if b.pattern != a.pattern
                    and pattern_covers(b.pattern, a.pattern)
                    # of two equivalent patterns, only the later one is reported
                    and (not pattern_covers(a.pattern, b.pattern) or b.pattern < a.pattern)
                }
            )
            if wider:
                findings.append(
                    Finding(
                        path,
                        "shadowed-pattern",
                        f"pattern {a.pattern} -> {queue} on exchange {exchange} is shadowed by "
                        f"{', '.join(wider)}: every key it matches already reaches {queue}; "
                        "remove it",
                    )
                )
    return findings


def _queues_without_tasks(topology: Topology) -> list[Finding]:
    findings = []
    for queue in topology.queues.values():
        if topology.task_for_queue(queue.name) is not None:
            continue
        if queue.consumer:
            what = f"is consumed by {queue.consumer} but no task handles it: mserve dead-letters"
        else:
            what = "has no task and no consumer: nothing takes"
        findings.append(
            Finding(
                ("queues", queue.name),
                "queue-without-task",
                f"queue {queue.name} {what} its messages",
            )
        )
    return findings


def _long_timeouts(topology: Topology, consumer_timeout: float | None) -> list[Finding]:
    """Tasks a broker's consumer timeout applies to, with no ``timeout:`` or one not below it."""
    findings = []
    for task in topology.tasks.values():
        applies = broker_timeout(topology, task.queue)
        if applies is None:  # no broker consumes its queue
            continue
        problem = timeout_problem(task.name, task.timeout, consumer_timeout or applies)
        if problem is None:
            continue
        if task.timeout is None:
            findings.append(Finding(("tasks", task.name), "task-without-timeout", problem))
        else:
            findings.append(Finding(("tasks", task.name, "timeout"), "task-timeout", problem))
    return findings


#: A word no pattern can contain, standing for "any word" when instantiating a pattern.
_FRESH = "\u2400"

#: Patterns with more ``#`` words than this are not compared (never reported as shadowed).
_MAX_HASHES = 4


def pattern_covers(wide: str, narrow: str) -> bool:
    """Whether every routing key ``narrow`` matches is matched by ``wide`` too.

    ``narrow`` is instantiated with a fresh word for each ``*`` and 0..len(wide)+1 fresh
    words for each ``#``: a fresh word only helps ``wide`` match through its wildcards, and
    longer runs add nothing ``wide``'s ``#`` cannot absorb, so these keys are the hardest.
    """
    words = narrow.split(".")
    hashes = [i for i, word in enumerate(words) if word == HASH]
    if len(hashes) > _MAX_HASHES:
        return False
    longest = len(wide.split(".")) + 1
    for counts in itertools.product(range(longest + 1), repeat=len(hashes)):
        expansion = dict(zip(hashes, counts, strict=True))
        key: list[str] = []
        for i, word in enumerate(words):
            if word == HASH:
                key.extend([_FRESH] * expansion[i])
            else:
                key.append(_FRESH if word == STAR else word)
        if not topic_matches(wide, ".".join(key)):
            return False
    return True
