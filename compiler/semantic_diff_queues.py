"""``mq-compile diff`` on queues: what RabbitMQ refuses to redeclare, what strands messages.

Retry and dead-letter settings never change a declared queue's arguments: delay queues are
named after their delay (``<queue>.retry.5s``), so changing them declares new queues instead
(reported as ``other``). A queue's type does: the retry and dead-letter queues of a quorum queue
are quorum queues too, so a type change names them in the queue's incompatible change.
"""

from __future__ import annotations

from collections.abc import Iterable

from mqwire.topology.declarations import failure_queue_declarations
from mqwire.topology.model import Queue, Topology, format_seconds

from .semantic_diff_change import Change, field_diffs, show, show_list

MIGRATION = (
    "RabbitMQ refuses to redeclare an existing queue with other properties "
    "(406 PRECONDITION_FAILED) and mserve exits with code 4. Migrate: declare a new queue "
    "name (e.g. `{name}.v2`), move its task, consumer and routes there and delete the old "
    "queue once drained; or stop publishers, let the workers drain `{name}`, delete it "
    "(`rabbitmqctl delete_queue {name}`) and deploy."
)


def queue_changes(old: Topology, new: Topology) -> Iterable[Change]:
    """Queues added, removed, redeclared otherwise, consumed differently or retried otherwise."""
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
        + f"failure queues ({show_list(leftovers)}) on the broker.",
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
        f"Its failure queues change with it ({show_list(changed)}) and are refused the same way: "
        "delete the retry queues once empty, and the dead-letter queue once its messages are "
        "replayed or saved (`mqctl ... dead-letters`), before the deploy declares them again.",
    )


def _changed_queue(
    before: Queue, after: Queue, failure_details: tuple[str, ...] = ()
) -> Iterable[Change]:
    declared = field_diffs(before, after, ("durable", "exclusive", "auto_delete"))
    if before.queue_type != after.queue_type:
        declared.insert(0, f"queue type `{before.queue_type}` -> `{after.queue_type}`")
    for arg in sorted(set(before.arguments) | set(after.arguments)):
        was, now = before.arguments.get(arg), after.arguments.get(arg)
        if was != now and not (arg == "x-queue-type" and before.queue_type != after.queue_type):
            declared.append(f"argument `{arg}` {show(was)} -> {show(now)}")
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
            f"no longer consumed (was {show(before.consumer)})",
            ("Messages routed to it accumulate with no worker to take them.",),
        )
    elif before.consumer is None and after.consumer is not None:
        yield Change("additive", "queue", before.name, f"now consumed by {show(after.consumer)}")
    other = field_diffs(
        before, after, ("prefetch", "schema", "dead_letter_queue", "max_body_bytes", "accept")
    )
    if before.consumer is not None and after.consumer is not None:
        other = field_diffs(before, after, ("consumer",)) + other
    details: list[str] = []
    retry_before, retry_after = dict(before.retry_queues), dict(after.retry_queues)
    if retry_before != retry_after:
        was, now = (show_list(format_seconds(d) for d in r) for r in (retry_before, retry_after))
        other.append(f"retry delays {was} -> {now}")
        gone = sorted(set(retry_before.values()) - set(retry_after.values()))
        if gone:
            details.append(
                f"No longer declared: {show_list(gone)}; messages waiting there still return to "
                f"`{before.name}`. Delete them on the broker once empty."
            )
    if before.dead_letter_queue != after.dead_letter_queue:
        details.append(
            f"Failed messages already in `{before.dead_letter_queue}` stay there; inspect or "
            "replay them before deleting it."
        )
    if other:
        yield Change("other", "queue", before.name, "; ".join(other), tuple(details))
