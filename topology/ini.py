"""Read a compiled INI back into the topology model: the runtime's input, the compiler's check."""

from __future__ import annotations

import configparser
import json
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, TypeVar

from .amqp_url import split_urls
from .errors import Location, TopologyError, TopologyErrors
from .model import (
    TLS_KEYS,
    Connection,
    PublisherConsumer,
    Queue,
    Retry,
    Route,
    Schedule,
    Task,
    Tls,
    Topology,
    Transport,
    frozen_mapping,
)

#: Factories written under ``<prefix>`` for each transport (the old settings grammar).
FACTORIES: Mapping[Transport, tuple[str, ...]] = {
    "amqp": (
        "mqwire.runtime.consumer.pika_client_factory",
        "mqwire.runtime.publisher.pika_publisher_factory",
    ),
    "local": ("mqwire.runtime.publisher.locally_dispatching_publisher_consumer_factory",),
}

T = TypeVar("T")

#: Marks a key without default in ``_Reader.get``.
_REQUIRED: Any = object()


class CompiledIni(NamedTuple):
    """A compiled INI: the topology, where its registry module is, and the flat settings."""

    topology: Topology
    registry: str
    source: str
    settings: Mapping[str, str]


def parse_ini(text: str) -> configparser.ConfigParser:
    """configparser as mqwire writes for: no interpolation (URLs hold ``%2F``), keys kept as is."""
    parser = configparser.ConfigParser(interpolation=None, default_section="mqwire:defaults")
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keep the case of keys
    parser.read_string(text)
    return parser


def read_compiled_ini(text: str, *, source_name: str = "compiled.ini") -> CompiledIni:
    """Parse compiled INI ``text``.

    Raises:
        TopologyErrors: naming each section and key that is missing or malformed.
    """
    try:
        parser = parse_ini(text)
    except configparser.Error as exc:
        raise TopologyErrors(
            [TopologyError(Location(source_name), str(exc).splitlines()[0])]
        ) from exc
    reader = _Reader(parser, source_name)
    topology = reader.topology()
    registry = reader.get("mqwire", "registry", str)
    source = reader.get("mqwire", "source", str)
    if reader.errors:
        raise TopologyErrors(reader.errors)
    return CompiledIni(
        topology=topology,
        registry=registry,
        source=source,
        settings=dict(parser["settings"]) if parser.has_section("settings") else {},
    )


def _lines(value: str) -> list[str]:
    return value.split()


def _arguments(value: str) -> dict[str, Any]:
    """One ``x-name: <JSON value>`` per line."""
    pairs = (line.partition(":") for line in value.strip().splitlines())
    return {name.strip(): json.loads(raw) for name, _, raw in pairs}


def _bool(value: str) -> bool:
    if value not in ("true", "false"):
        raise ValueError("not true or false")
    return value == "true"


class _Reader:
    def __init__(self, parser: configparser.ConfigParser, source: str) -> None:
        self.parser, self.source = parser, source
        self.errors: list[TopologyError] = []

    def get(
        self, section: str, key: str, cast: Callable[[str], T], default: Any = _REQUIRED
    ) -> Any:
        """``cast(value)``, or ``default`` when absent; a key without default must be there.

        A missing or malformed value is recorded as an error naming the section and key.
        """
        if not self.parser.has_option(section, key):
            if default is _REQUIRED:
                self.errors.append(
                    TopologyError(Location(self.source), f"[{section}] {key} is missing")
                )
                return None
            return default
        raw = self.parser.get(section, key)
        try:
            return cast(raw)
        except (ValueError, TypeError) as exc:
            self.errors.append(
                TopologyError(
                    Location(self.source),
                    f"[{section}] {key} has value {raw!r}, which is not valid: {exc}",
                )
            )
            return default

    def sections(self, kind: str) -> list[str]:
        return sorted(
            s.split(":", 1)[1] for s in self.parser.sections() if s.startswith(kind + ":")
        )

    def topology(self) -> Topology:
        queues = {n: self.queue(n) for n in self.sections("queue")}
        pcs: dict[str, PublisherConsumer] = {}
        for line in self.get("mqwire", "publisher_consumers", _lines) or []:
            name, _, prefix = line.partition(":")
            consumed = {q.name for q in queues.values() if q.consumer == name}
            pcs[name] = self.publisher_consumer(name, prefix, consumed)
        return Topology(
            version=self.get("mqwire", "version", int),
            connections=frozen_mapping(
                {
                    n: Connection(
                        n,
                        tuple(split_urls(self.get(f"connection:{n}", "url", str))),
                        self.get(f"connection:{n}", "heartbeat", int, None),
                        self.get(f"connection:{n}", "consumer_timeout", float, None),
                        self.tls(f"connection:{n}"),
                    )
                    for n in self.sections("connection")
                }
            ),
            publisher_consumers=frozen_mapping(pcs),
            queues=frozen_mapping(queues),
            tasks=frozen_mapping({n: self.task(n) for n in self.sections("task")}),
            scan=tuple(self.get("mqwire", "scan", _lines, None) or ()),
            schedules=frozen_mapping({n: self.schedule(n) for n in self.sections("schedule")}),
            middleware=tuple(self.get("mqwire", "middleware", _lines, None) or ()),
            delays=self.get("mqwire", "delays", _bool, False),
        )

    def tls(self, section: str) -> Tls | None:
        """The section's ``tls.*`` keys; None without any (``tls.verify`` is always written)."""
        if not any(self.parser.has_option(section, f"tls.{k}") for k in TLS_KEYS):
            return None
        paths = {k: self.get(section, f"tls.{k}", str, None) for k in TLS_KEYS if k != "verify"}
        return Tls(**paths, verify=self.get(section, "tls.verify", _bool, True))

    def publisher_consumer(self, name: str, prefix: str, consumed: set[str]) -> PublisherConsumer:
        factories = tuple(self.get("settings", prefix, _lines) or [])
        routes = set()
        for item in self.get("settings", f"{prefix}.routes", _lines, None) or []:
            pattern, _, queue = item.partition(":")
            if not (pattern == queue and queue in consumed):
                routes.add(Route(pattern, queue))
        return PublisherConsumer(
            name=name,
            prefix=prefix,
            transport="local" if factories == FACTORIES["local"] else "amqp",
            connection=self.get("settings", f"{prefix}.connection", str, None),
            exchange=self.get("settings", f"{prefix}.exchange", str, None),
            routes=tuple(sorted(routes, key=lambda r: (r.pattern, r.queue))),
            continue_on_exception=self.get(
                "settings", f"{prefix}.continue_on_exception", _bool, False
            ),
        )

    def queue(self, name: str) -> Queue:
        s = f"queue:{name}"
        delays = self.get(s, "retry_delays", _lines, None)
        return Queue(
            name=name,
            consumer=self.get(s, "consumer", str, None),
            prefetch=self.get(s, "prefetch", int, 1),
            durable=self.get(s, "durable", _bool, True),
            exclusive=self.get(s, "exclusive", _bool, False),
            auto_delete=self.get(s, "auto_delete", _bool, False),
            arguments=frozen_mapping(self.get(s, "arguments", _arguments, None)),
            retry=Retry(tuple(float(d) for d in delays)) if delays else None,
            dead_letter_queue=self.get(s, "dead_letter_queue", str, ""),
            schema=self.get(s, "schema", str, None),
            max_body_bytes=self.get(s, "max_body_bytes", int, None),
            accept=tuple(self.get(s, "accept", _lines, ())),
        )

    def task(self, name: str) -> Task:
        s = f"task:{name}"
        return Task(
            name=name,
            task=self.get(s, "task", str),
            queue=self.get(s, "queue", str),
            root_factory=self.get(s, "root_factory", str, None),
            timeout=self.get(s, "timeout", float, None),
        )

    def schedule(self, name: str) -> Schedule:
        s = f"schedule:{name}"
        return Schedule(
            name=name,
            publisher_consumer=self.get(s, "publisher_consumer", str),
            routing_key=self.get(s, "routing_key", str),
            body=self.get(s, "body", _json_text, "{}"),
            every=self.get(s, "every", float, None),
            cron=self.get(s, "cron", str, None),
            timezone=self.get(s, "timezone", str, "UTC"),
            missed=self.get(s, "missed", _missed, "fire"),
            task=self.get(s, "task", str, None),
        )


def _json_text(value: str) -> str:
    json.loads(value)  # a ValueError names what is wrong
    return value


def _missed(value: str) -> str:
    if value not in ("fire", "skip"):
        raise ValueError("not fire or skip")
    return value
