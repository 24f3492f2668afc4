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

Retry and dead-letter settings never change a declared queue's arguments: delay queues are
named after their delay (``<queue>.retry.5s``), so changing them declares new queues instead
(reported as ``other``). A queue's type does: the retry and dead-letter queues of a quorum queue
are quorum queues too, so a type change names them in the queue's incompatible change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from mqwire.topology.declarations import failure_queue_declarations
from mqwire.topology.model import TLS_KEYS, Connection, Queue, Route, Topology, format_seconds

from .semantic_diff_routing import routing_differences
from .semantic_diff_schedules import schedule_differences

ChangeClass = Literal["incompatible", "destructive", "routing", "schedule", "additive", "other"]

#: Classes in report order (most dangerous first), with their section titles.
CLASSES: tuple[ChangeClass, ...] = (
    "incompatible", "destructive", "routing", "schedule", "additive", "other",
)  # fmt: skip
TITLES: Mapping[ChangeClass, str] = {
    "incompatible": "broker-incompatible",
    "destructive": "destructive",
    "routing": "routing",
    "schedule": "schedule",
    "additive": "additive",
    "other": "other",
}

#: Classes that make ``mq-compile diff`` exit 3 unless explicitly allowed.
BLOCKING: tuple[ChangeClass, ...] = ("incompatible", "destructive")

#: Entities in report order within a class.
_ENTITIES = (
    "queue", "publisher_consumer", "exchange", "route", "task", "schedule", "connection", "scan",
    "middleware",
)  # fmt: skip

MIGRATION = (
    "RabbitMQ refuses to redeclare an existing queue with other properties "
    "(406 PRECONDITION_FAILED) and mserve exits with code 4. Migrate: declare a new queue "
    "name (e.g. `{name}.v2`), move its task, consumer and routes there and delete the old "
    "queue once drained; or stop publishers, let the workers drain `{name}`, delete it "
    "(`rabbitmqctl delete_queue {name}`) and deploy."
)


@dataclass(frozen=True)
class Change:
    """One classified change: ``entity`` ``name`` (e.g. queue ``lots.mail``) and what changed."""

    cls: ChangeClass
    entity: str
    name: str
    summary: str
    details: tuple[str, ...] = ()

    def sort_key(self) -> tuple[int, int, str, str]:
        entity = _ENTITIES.index(self.entity) if self.entity in _ENTITIES else len(_ENTITIES)
        return (CLASSES.index(self.cls), entity, self.name, self.summary)


def diff_topologies(old: Topology, new: Topology) -> list[Change]:
    """Every change from ``old`` to ``new``, classified and in a stable order."""
    changes = [
        *_queue_changes(old, new),
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
        changes.append(Change("other", "scan", "scan", f"{_list(old.scan)} -> {_list(new.scan)}"))
    if old.middleware != new.middleware:
        summary = f"{_list(old.middleware)} -> {_list(new.middleware)}"
        changes.append(Change("other", "middleware", "middleware", summary))
    return sorted(changes, key=Change.sort_key)


def counts(changes: Iterable[Change]) -> dict[ChangeClass, int]:
    """Number of changes per class, every class present (zero when none)."""
    result: dict[ChangeClass, int] = dict.fromkeys(CLASSES, 0)
    for change in changes:
        result[change.cls] += 1
    return result


def _show(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple | list):
        return _list(value)
    if isinstance(value, float) and value.is_integer():
        return f"`{int(value)}`"
    return f"`{value}`"


def _list(values: Iterable[Any]) -> str:
    items = [f"`{v}`" for v in values]
    return ", ".join(items) if items else "(none)"


def _diffs(old: Any, new: Any, fields: Iterable[str]) -> list[str]:
    return [
        f"{name} {_show(getattr(old, name))} -> {_show(getattr(new, name))}"
        for name in fields
        if getattr(old, name) != getattr(new, name)
    ]


def _queue_changes(old: Topology, new: Topology) -> Iterable[Change]:
    for name in sorted(set(old.queues) | set(new.queues)):
        before, after = old.queues.get(name), new.queues.get(name)
        if before is None:
            yield Change("additive", "queue", name, "new queue")
        elif after is None:
            yield Change("destructive", "queue", name, "removed", _removed_queue(old, before))
        else:
            yield from _changed_queue(before, after, _failure_queue_changes(old, new, name))


def _removed_queue(old: Topology, queue: Queue) -> tuple[str, ...]:
    task = old.task_for_queue(queue.name)
    leftovers = [q for _, q in queue.retry_queues] + [queue.dead_letter_queue]
    return (
        "mqwire no longer declares or consumes it, but the broker keeps it: messages in it are "
        + "stranded"
        + (f" (it fed task `{task.name}`)" if task else "")
        + ". Stop publishing to it, let the workers drain it, then delete it and its "
        + f"failure queues ({_list(leftovers)}) on the broker.",
    )


def _failure_queue_changes(old: Topology, new: Topology, name: str) -> tuple[str, ...]:
    """The details of the retry and dead-letter queues ``name``'s change redeclares otherwise
    (a queue type change carries them along), for its incompatible change."""
    was = {d.name: d for d in failure_queue_declarations(old.queues[name], old.queues)}
    now = {d.name: d for d in failure_queue_declarations(new.queues[name], new.queues)}
    changed = sorted(n for n in set(was) & set(now) if was[n] != now[n] and n not in new.queues)
    if not changed:
        return ()
    return (
        f"Its failure queues change with it ({_list(changed)}) and are refused the same way: "
        "delete the retry queues once empty, and the dead-letter queue once its messages are "
        "replayed or saved (`mqctl ... dead-letters`), before the deploy declares them again.",
    )


def _changed_queue(
    before: Queue, after: Queue, failure_details: tuple[str, ...] = ()
) -> Iterable[Change]:
    declared = _diffs(before, after, ("durable", "exclusive", "auto_delete"))
    if before.queue_type != after.queue_type:
        declared.insert(0, f"queue type `{before.queue_type}` -> `{after.queue_type}`")
    for arg in sorted(set(before.arguments) | set(after.arguments)):
        was, now = before.arguments.get(arg), after.arguments.get(arg)
        if was != now and not (arg == "x-queue-type" and before.queue_type != after.queue_type):
            declared.append(f"argument `{arg}` {_show(was)} -> {_show(now)}")
    if declared:
        migrate = MIGRATION.format(name=before.name)
        yield Change(
            "incompatible", "queue", before.name, "; ".join(declared), (migrate, *failure_details)
        )
    if before.consumer is not None and after.consumer is None:
        yield Change(
            "destructive",
            "queue",
            before.name,
            f"no longer consumed (was {_show(before.consumer)})",
            ("Messages routed to it accumulate with no worker to take them.",),
        )
    elif before.consumer is None and after.consumer is not None:
        yield Change("additive", "queue", before.name, f"now consumed by {_show(after.consumer)}")
    other = _diffs(
        before, after, ("prefetch", "schema", "dead_letter_queue", "max_body_bytes", "accept")
    )
    if before.consumer is not None and after.consumer is not None:
        other = _diffs(before, after, ("consumer",)) + other
    details: list[str] = []
    retry_before, retry_after = dict(before.retry_queues), dict(after.retry_queues)
    if retry_before != retry_after:
        was, now = (_list(format_seconds(d) for d in r) for r in (retry_before, retry_after))
        other.append(f"retry delays {was} -> {now}")
        gone = sorted(set(retry_before.values()) - set(retry_after.values()))
        if gone:
            details.append(
                f"No longer declared: {_list(gone)}; messages waiting there still return to "
                f"`{before.name}`. Delete them on the broker once empty."
            )
    if before.dead_letter_queue != after.dead_letter_queue:
        details.append(
            f"Failed messages already in `{before.dead_letter_queue}` stay there; inspect or "
            "replay them before deleting it."
        )
    if other:
        yield Change("other", "queue", before.name, "; ".join(other), tuple(details))


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
        other = _diffs(before, after, ("task", "root_factory", "timeout"))
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
            other = _diffs(before, after, fields)
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
                f"{key} {_show(was.get(key))} -> {_show(now.get(key))}"
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
        lines = tuple(f"`{key}`: {_list(was)} -> {_list(now)}" for key, was, now in keys)
        count = len(keys)
        keys_reach = "key now reaches" if count == 1 else "keys now reach"
        summary = f"{count} example routing {keys_reach} other queues"
        yield Change("routing", "publisher_consumer", name, summary, lines)
