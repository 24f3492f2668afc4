"""The semantic diff of two topologies: every change, classified for a reviewer.

Pure: two :class:`~mqwire.topology.model.Topology` values in, a sorted list of
:class:`Change` out. Classes, most dangerous first:

- ``incompatible``: RabbitMQ refuses to redeclare an existing queue with other properties
  (queue type, ``durable``, ``exclusive``, ``auto_delete``, any ``x-`` argument) with
  406 PRECONDITION_FAILED, so the deploy fails until the queue is migrated;
- ``destructive``: removed queues, routes, tasks or publisher_consumers that strand messages
  or leave a queue unconsumed;
- ``routing``: routing keys that now reach another set of queues (see
  :mod:`.semantic_diff_routing`);
- ``schedule``: schedules added, removed, or publishing something else or at other times
  (:mod:`.semantic_diff_schedules`);
- ``additive``: new queues, routes, tasks, publisher_consumers and exchanges;
- ``other``: harmless changes (prefetch, timeouts, task paths, connections...).

Queues, their retry and dead-letter queues included, are compared in
:mod:`.semantic_diff_queues`; :class:`Change` and its classes are in :mod:`.semantic_diff_change`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mqwire.topology.model import TLS_KEYS, Connection, Route, Topology

from .semantic_diff_change import Change, ChangeClass, field_diffs, show, show_list
from .semantic_diff_queues import queue_changes
from .semantic_diff_routing import routing_differences
from .semantic_diff_schedules import schedule_differences


def diff_topologies(old: Topology, new: Topology) -> list[Change]:
    """Every change from ``old`` to ``new``, classified and in a stable order."""
    changes = [
        *queue_changes(old, new),
        *_task_changes(old, new),
        *_publisher_consumer_changes(old, new),
        *_route_changes(old, new),
        *_exchange_changes(old, new),
        *_connection_changes(old, new),
        *_routing_changes(old, new),
        *(
            Change("schedule", "schedule", name, summary, details)
            for name, summary, details in schedule_differences(old, new)
        ),
    ]
    if old.scan != new.scan:
        summary = f"{show_list(old.scan)} -> {show_list(new.scan)}"
        changes.append(Change("other", "scan", "scan", summary))
    if old.middleware != new.middleware:
        summary = f"{show_list(old.middleware)} -> {show_list(new.middleware)}"
        changes.append(Change("other", "middleware", "middleware", summary))
    return sorted(changes, key=Change.sort_key)


def _task_changes(old: Topology, new: Topology) -> Iterable[Change]:
    for name in sorted(set(old.tasks) | set(new.tasks)):
        before, after = old.tasks.get(name), new.tasks.get(name)
        if before is None:
            assert after is not None
            yield Change("additive", "task", name, f"new task on queue `{after.queue}`")
            continue
        orphan = before.queue in new.queues and new.task_for_queue(before.queue) is None
        why = (
            f"Queue `{before.queue}` is left without a task: its messages are dead-lettered "
            "(reason: no task) instead of run.",
        )
        if after is None:
            yield Change("destructive", "task", name, "removed", why if orphan else ())
            continue
        if before.queue != after.queue:
            summary = f"queue `{before.queue}` -> `{after.queue}`"
            cls: ChangeClass = "destructive" if orphan else "other"
            yield Change(cls, "task", name, summary, why if orphan else ())
        other = field_diffs(before, after, ("task", "root_factory", "timeout"))
        if other:
            yield Change("other", "task", name, "; ".join(other))


def _publisher_consumer_changes(old: Topology, new: Topology) -> Iterable[Change]:
    fields = ("prefix", "transport", "connection", "exchange", "continue_on_exception")
    for name in sorted(set(old.publisher_consumers) | set(new.publisher_consumers)):
        before, after = old.publisher_consumers.get(name), new.publisher_consumers.get(name)
        if before is None:
            yield Change("additive", "publisher_consumer", name, "new publisher_consumer")
        elif after is None:
            yield Change(
                "destructive",
                "publisher_consumer",
                name,
                "removed",
                (
                    f"Applications calling `registry.publisher({name!r})` fail, and `mserve` "
                    f"can no longer run `{name}`.",
                ),
            )
        else:
            other = field_diffs(before, after, fields)
            if other:
                yield Change("other", "publisher_consumer", name, "; ".join(other))


def _routes(topology: Topology) -> set[tuple[str, Route]]:
    return {(pc, r) for pc, p in topology.publisher_consumers.items() for r in p.routes}


def _route_changes(old: Topology, new: Topology) -> Iterable[Change]:
    before, after = _routes(old), _routes(new)
    for pc, route in sorted(after - before, key=lambda x: (x[0], x[1].pattern, x[1].queue)):
        name = f"{route.pattern} -> {route.queue}"
        yield Change("additive", "route", name, f"new, on publisher_consumer `{pc}`")
    for pc, route in sorted(before - after, key=lambda x: (x[0], x[1].pattern, x[1].queue)):
        yield Change(
            "destructive",
            "route",
            f"{route.pattern} -> {route.queue}",
            f"removed from publisher_consumer `{pc}`",
            (
                f"Messages whose key matches `{route.pattern}` no longer reach "
                f"`{route.queue}` (unless another route still takes them); a key no route "
                "takes is refused as unroutable. mqwire does not unbind: remove the binding "
                "on the broker.",
            ),
        )


def _exchanges(topology: Topology) -> set[str]:
    return {p.exchange for p in topology.publisher_consumers.values() if p.exchange}


def _exchange_changes(old: Topology, new: Topology) -> Iterable[Change]:
    for name in sorted(_exchanges(new) - _exchanges(old)):
        yield Change("additive", "exchange", name, "new topic exchange")
    for name in sorted(_exchanges(old) - _exchanges(new)):
        yield Change(
            "other",
            "exchange",
            name,
            "no longer declared",
            ("The broker keeps it and its bindings; delete it once nothing publishes to it.",),
        )


def _connection_changes(old: Topology, new: Topology) -> Iterable[Change]:
    for name in sorted(set(old.connections) | set(new.connections)):
        before, after = old.connections.get(name), new.connections.get(name)
        if before is None:
            yield Change("other", "connection", name, "new connection")
        elif after is None:
            yield Change("other", "connection", name, "removed")
        else:
            was, now = _connection_fields(before), _connection_fields(after)
            other = [
                f"{key} {show(was.get(key))} -> {show(now.get(key))}"
                for key in dict.fromkeys([*was, *now])
                if was.get(key) != now.get(key)
            ]
            if other:
                yield Change("other", "connection", name, "; ".join(other))


def _connection_fields(c: Connection) -> dict[str, Any]:
    """What a connection says, by the INI's key names (``tls.ca_file``...; none without tls:)."""
    tls = {} if c.tls is None else {f"tls.{key}": getattr(c.tls, key) for key in TLS_KEYS}
    return {
        "url": " ".join(c.urls),
        "heartbeat": c.heartbeat,
        "consumer_timeout": c.consumer_timeout,
        **tls,
    }


def _routing_changes(old: Topology, new: Topology) -> Iterable[Change]:
    for name, keys in routing_differences(old, new).items():
        lines = tuple(f"`{key}`: {show_list(was)} -> {show_list(now)}" for key, was, now in keys)
        count = len(keys)
        keys_reach = "key now reaches" if count == 1 else "keys now reach"
        summary = f"{count} example routing {keys_reach} other queues"
        yield Change("routing", "publisher_consumer", name, summary, lines)
