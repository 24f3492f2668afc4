"""Everything the templates print, prepared as plain strings: sorting, naming and escaping."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mqwire.topology.ini import FACTORIES
from mqwire.topology.model import (
    TLS_KEYS,
    Connection,
    PublisherConsumer,
    Queue,
    Schedule,
    Task,
    Tls,
    Topology,
)

#: Indentation of continuation lines in the INI.
_INDENT = "    "


@dataclass
class Section:
    title: str
    entries: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)

    def add(self, key: str, value: Any) -> None:
        """Add ``key = value``; a list becomes one item per continuation line; None is left out."""
        if value is None:
            return
        if isinstance(value, list):
            self.entries.append(f"{key} =" + "".join(f"\n{_INDENT}{ini_value(v)}" for v in value))
        else:
            self.entries.append(f"{key} = {ini_value(value)}".rstrip())


def ini_value(value: Any) -> str:
    """One INI value. Names were validated, so only values with a line break can be unsafe."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float):
        text = format_number(value)
    else:
        text = str(value)
    if any(ch in text for ch in "\r\n\x00") or text != text.strip():
        raise ValueError(f"cannot write {text!r} as one INI value")
    return text


def format_number(value: float) -> str:
    """``30.0`` -> ``30``, ``0.5`` -> ``0.5``: the shortest text that reads back equal."""
    return str(int(value)) if value.is_integer() else repr(value)


def routes_value(routes: Iterable[tuple[str, str]]) -> list[str] | str:
    """``pattern:queue`` items. configparser drops an indented line starting with ``#``,
    so routes whose pattern starts with ``#`` go on the key's first line."""
    items = [f"{p}:{q}" for p, q in routes]
    first = " ".join(i for i in items if i.startswith("#"))
    rest = [i for i in items if not i.startswith("#")]
    return f"{first}" + "".join(f"\n{_INDENT}{i}" for i in rest) if first else rest


def ini_sections(topology: Topology, *, source: str, registry: str) -> list[Section]:
    """The compiled INI, section by section, in the documented order."""
    meta = Section("mqwire", comments=["What compiled this file and where its task registry is."])
    meta.add("version", topology.version)
    meta.add("source", source)
    meta.add("registry", registry)
    meta.add("scan", list(topology.scan) or None)
    meta.add("middleware", list(topology.middleware) or None)
    meta.add("delays", True if topology.delays else None)
    meta.add(
        "publisher_consumers",
        [f"{pc.name}:{pc.prefix}" for pc in topology.publisher_consumers.values()],
    )
    settings = Section(
        "settings",
        comments=[
            "The add_publisher_consumer settings, one block per publisher_consumer.",
        ],
    )
    for index, pc in enumerate(topology.publisher_consumers.values()):
        if index:
            settings.entries.append("")
        settings.entries.append(f"# publisher_consumer {pc.name}")
        _settings_block(settings, topology, pc)
    sections = [meta, settings]
    for connection in topology.connections.values():
        section = Section(f"connection:{connection.name}")
        section.add("url", _urls(connection))
        section.add("heartbeat", connection.heartbeat)
        section.add("consumer_timeout", connection.consumer_timeout)
        _tls_entries(section, "tls", connection.tls)
        sections.append(section)
    sections.extend(
        _queue_section(q, topology.task_for_queue(q.name)) for q in topology.queues.values()
    )
    sections.extend(_task_section(topology, t) for t in topology.tasks.values())
    sections.extend(_schedule_section(s) for s in topology.schedules.values())
    return sections


def _urls(connection: Connection) -> str | list[str]:
    """One URL as a value; a cluster's, one per line (``split_urls`` reads both)."""
    return connection.url if len(connection.urls) == 1 else list(connection.urls)


def _settings_block(section: Section, topology: Topology, pc: PublisherConsumer) -> None:
    p = pc.prefix
    connection = topology.connections.get(pc.connection) if pc.connection else None
    section.add(p, list(FACTORIES[pc.transport]))
    section.add(f"{p}.connection", pc.connection)
    section.add(f"{p}.url", _urls(connection) if connection else None)
    section.add(f"{p}.heartbeat", connection.heartbeat if connection else None)
    section.add(f"{p}.consumer_timeout", connection.consumer_timeout if connection else None)
    _tls_entries(section, f"{p}.tls", connection.tls if connection else None)
    section.add(f"{p}.exchange", pc.exchange)
    section.entries.append(
        f"{p}.routes ="
        + _first_line(
            routes_value((r.pattern, r.queue) for r in topology.effective_routes(pc.name))
        )
    )
    section.add(
        f"{p}.queues", [q.name for q in topology.queues.values() if q.consumer == pc.name] or None
    )
    section.add(f"{p}.continue_on_exception", pc.continue_on_exception)


def _tls_entries(section: Section, key: str, tls: Tls | None) -> None:
    """``KEY.ca_file = ...`` and so on; ``KEY.verify`` always, so an empty ``tls:`` shows."""
    if tls is not None:
        for name in TLS_KEYS:
            section.add(f"{key}.{name}", getattr(tls, name))


def _first_line(value: list[str] | str) -> str:
    if isinstance(value, str):
        return f" {value}"
    return "".join(f"\n{_INDENT}{v}" for v in value)


def _queue_section(queue: Queue, task: Task | None) -> Section:
    section = Section(f"queue:{queue.name}")
    section.add("consumer", queue.consumer)
    section.add("task", task.name if task else None)
    section.add("prefetch", queue.prefetch)
    section.add("durable", queue.durable)
    section.add("exclusive", queue.exclusive)
    section.add("auto_delete", queue.auto_delete)
    section.add("arguments", [f"{k}: {json.dumps(v)}" for k, v in queue.arguments.items()] or None)
    if queue.retry:
        section.add("retry_delays", " ".join(format_number(d) for d in queue.retry.delays))
        section.add("retry_queues", [f"{format_number(d)}:{n}" for d, n in queue.retry_queues])
    section.add("dead_letter_queue", queue.dead_letter_queue)
    section.add("schema", queue.schema)
    section.add("max_body_bytes", queue.max_body_bytes)
    section.add("accept", list(queue.accept) or None)
    return section


def _task_section(topology: Topology, task: Task) -> Section:
    section = Section(f"task:{task.name}")
    section.add("task", task.task)
    section.add("queue", task.queue)
    section.add("publisher_consumer", topology.queues[task.queue].consumer)
    section.add("root_factory", task.root_factory)
    section.add("timeout", task.timeout)
    return section


def _schedule_section(schedule: Schedule) -> Section:
    section = Section(f"schedule:{schedule.name}")
    section.add("task", schedule.task)
    section.add("publisher_consumer", schedule.publisher_consumer)
    section.add("routing_key", schedule.routing_key)
    section.add("every", schedule.every)
    section.add("cron", schedule.cron)
    section.add("timezone", schedule.timezone if schedule.cron else None)
    section.add("body", schedule.body)
    section.add("missed", schedule.missed)
    return section


def registry_context(topology: Topology) -> dict[str, Any]:
    """Imports and entries of the registry module, every value a Python literal or reference."""
    modules: set[str] = set()
    tasks = []
    for task in topology.tasks.values():
        fields: list[tuple[str, str]] = [
            ("name", py_literal(task.name)),
            ("task", _reference(task.task, modules)),
            ("task_path", py_literal(task.task)),
            ("root_factory", _reference(task.root_factory, modules)),
            ("root_factory_path", py_literal(task.root_factory)),
            ("queue", py_literal(task.queue)),
            ("publisher_consumer", py_literal(topology.queues[task.queue].consumer)),
            ("timeout", py_literal(task.timeout)),
        ]
        tasks.append(
            {"name": py_literal(task.name), "fields": [(py_literal(k), v) for k, v in fields]}
        )
    middleware = [_reference(path, modules) for path in topology.middleware]
    return {"imports": sorted(modules), "tasks": tasks, "middleware": middleware}


def py_literal(value: str | float | None) -> str:
    """A Python literal in the style ruff format writes (double-quoted strings)."""
    if value is None or isinstance(value, float):
        return repr(value)
    return json.dumps(value)  # names are ASCII: a JSON string is also a Python literal


def _reference(path: str | None, modules: set[str]) -> str:
    """``pkg.mod:attr`` -> ``pkg.mod.attr``, recording ``pkg.mod`` for an ``import`` line."""
    if path is None:
        return "None"
    module, attribute = path.split(":")
    modules.add(module)
    return f"{module}.{attribute}"


def header(source: str, sha256: str) -> str:
    """The generated-file marker: no timestamps, no absolute paths."""
    return (
        f"# Code generated by mq-compile from {source}. DO NOT EDIT.\n"
        f"# sha256 of the source: {sha256}"
    )


__all__: Sequence[str] = ["FACTORIES", "header", "ini_sections", "registry_context"]
