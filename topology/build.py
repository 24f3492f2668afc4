"""Turn validated topology data into the immutable model (no checks left to do here)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .check_state import entries
from .model import (
    Connection,
    PublisherConsumer,
    Queue,
    Retry,
    Route,
    Schedule,
    Task,
    Tls,
    Topology,
    frozen_mapping,
)
from .queue_defaults import default_arguments, effective_arguments
from .scan import ScanResult
from .schedules import canonical_body, every_seconds, task_target


def build_topology(data: Mapping[str, Any], scan: ScanResult) -> Topology:
    """Build the model from data that passed the schema and the semantic checks."""
    tasks = {name: _task(name, t) for name, t in entries(data, "tasks").items()}
    for found in scan.tasks:
        tasks[found.name] = Task(
            found.name, found.task, found.queue, found.root_factory, _number(found.timeout)
        )
    defaults = default_arguments(data)
    consumed: dict[str, set[str]] = {}
    for name, queue in entries(data, "queues").items():
        consumed.setdefault(queue.get("consumer", ""), set()).add(name)
    return Topology(
        version=data["version"],
        connections=frozen_mapping(
            {
                n: Connection(
                    n,
                    tuple(c["url"]) if isinstance(c["url"], list) else (c["url"],),
                    c.get("heartbeat"),
                    _number(c.get("consumer_timeout")),
                    Tls(**c["tls"]) if "tls" in c else None,
                )
                for n, c in entries(data, "connections").items()
            }
        ),
        publisher_consumers=frozen_mapping(
            {
                n: _publisher_consumer(n, p, consumed.get(n, set()))
                for n, p in entries(data, "publisher_consumers").items()
            }
        ),
        queues=frozen_mapping(
            {n: _queue(n, q, defaults) for n, q in entries(data, "queues").items()}
        ),
        tasks=frozen_mapping(tasks),
        scan=tuple(data.get("scan", ())),
        schedules=frozen_mapping(
            {n: _schedule(n, s, tasks, data) for n, s in entries(data, "schedules").items()}
        ),
        middleware=tuple(data.get("middleware", ())),
        delays=bool(data.get("delays", False)),
    )


def _schedule(
    name: str, schedule: Mapping[str, Any], tasks: Mapping[str, Task], data: Mapping[str, Any]
) -> Schedule:
    """A task's schedule is resolved to the publisher and key that reach its queue."""
    task = schedule.get("task")
    if task is not None:
        queues = {n: {"queue": t.queue} for n, t in tasks.items()}
        publisher, key = task_target(queues, entries(data, "queues"), task) or ("", "")
    else:
        publisher, key = schedule["publisher"], schedule["routing_key"]
    every = schedule.get("every")
    return Schedule(
        name=name,
        publisher_consumer=publisher,
        routing_key=key,
        body=canonical_body(schedule.get("body")),
        every=every_seconds(every) if every is not None else None,
        cron=schedule.get("cron"),
        timezone=schedule.get("timezone", "UTC"),
        missed=schedule.get("missed", "fire"),
        task=task,
    )


def _publisher_consumer(name: str, pc: Mapping[str, Any], consumed: set[str]) -> PublisherConsumer:
    """Routes are kept sorted; ``q: q`` for a queue ``name`` consumes is implied, so dropped."""
    routes = set()
    for pattern, target in pc.get("routes", {}).items():
        for queue in [target] if isinstance(target, str) else target:
            if pattern != queue or queue not in consumed:
                routes.add(Route(pattern, queue))
    return PublisherConsumer(
        name=name,
        prefix=pc["prefix"],
        transport=pc.get("transport", "amqp"),
        connection=pc.get("connection"),
        exchange=pc.get("exchange"),
        routes=tuple(sorted(routes, key=lambda r: (r.pattern, r.queue))),
        continue_on_exception=pc.get("continue_on_exception", False),
    )


def _queue(name: str, queue: Mapping[str, Any], defaults: Mapping[str, Any]) -> Queue:
    retry = queue.get("retry")
    return Queue(
        name=name,
        consumer=queue.get("consumer"),
        prefetch=queue.get("prefetch", Queue.prefetch),
        durable=queue.get("durable", True),
        exclusive=queue.get("exclusive", False),
        auto_delete=queue.get("auto_delete", False),
        arguments=frozen_mapping(effective_arguments(queue, defaults)),
        retry=Retry(tuple(_number(d) for d in retry["delays"])) if retry else None,
        dead_letter_queue=queue.get("dead_letter_queue", ""),
        schema=queue.get("schema"),
        max_body_bytes=queue.get("max_body_bytes"),
        accept=tuple(sorted({str(m).lower() for m in queue.get("accept", ())})),
    )


def _task(name: str, task: Mapping[str, Any]) -> Task:
    return Task(
        name, task["task"], task["queue"], task.get("root_factory"), _number(task.get("timeout"))
    )


def _number(value: Any) -> Any:
    """Seconds as float, so ``5`` and ``5.0`` compare and render the same everywhere."""
    return None if value is None else float(value)
