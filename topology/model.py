"""The topology as an immutable value: what the loader builds and the compiler renders."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

#: Transports a publisher_consumer can use.
Transport = Literal["amqp", "local"]
TRANSPORTS: tuple[Transport, ...] = ("amqp", "local")

#: Topology file format versions this code reads.
SUPPORTED_VERSIONS = (1,)

#: Default number of unacknowledged messages a worker holds per queue (fair and safe).
DEFAULT_PREFETCH = 1
#: Largest body a queue's task is given when the queue sets no ``max_body_bytes`` (RabbitMQ 4's
#: own default message size limit); a larger one is dead-lettered before it is decoded.
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024

#: Queue, exchange, task and publisher_consumer names (the schema's ``$defs/name`` pattern):
#: words of letters, digits, ``_`` and ``-`` joined by single dots, so every queue name is
#: also a valid routing key and nothing can break out of an INI line or a Python string.
NAME_PATTERN = r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*"
NAME_RE = re.compile(NAME_PATTERN)

#: JSON values allowed as queue arguments.
ArgumentValue = str | int | bool


def frozen_mapping(items: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    """A read-only mapping sorted by key, so equal content means equal order."""
    return MappingProxyType(dict(sorted((items or {}).items())))


#: The keys of a connection's ``tls:``, in the order the compiled INI writes them.
TLS_KEYS = ("ca_file", "cert_file", "key_file", "server_hostname", "verify")
#: What ``verify: false`` gives up: said where mq-compile refuses it and where it is logged.
UNVERIFIED_RISK = (
    "the broker's certificate and host name are not checked, so anyone on the network path "
    "can pose as the broker and read the credentials and messages"
)


@dataclass(frozen=True)
class Tls:
    """TLS of an ``amqps://`` connection. Paths keep ``${VAR}`` placeholders and are read only
    by the runtime (the compiling machine may not have them)."""

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    server_hostname: str | None = None
    #: False only with ``mq-compile --allow-unverified-tls``: the broker is not checked
    verify: bool = True


@dataclass(frozen=True)
class Connection:
    """How to reach a broker: one URL, or one per node of a cluster. The URLs keep ``${VAR}``
    placeholders; the runtime resolves them."""

    name: str
    urls: tuple[str, ...]
    heartbeat: int | None = None
    #: the broker's delivery acknowledgement timeout (seconds), as the topology states it
    consumer_timeout: float | None = None
    tls: Tls | None = None

    @property
    def url(self) -> str:
        """The first node's URL (the only one, unless the connection lists a cluster's)."""
        return self.urls[0]


@dataclass(frozen=True)
class Route:
    """A topic binding: messages whose routing key matches ``pattern`` reach ``queue``."""

    pattern: str
    queue: str


@dataclass(frozen=True)
class PublisherConsumer:
    """A named publisher/consumer pair, found by its settings ``prefix``."""

    name: str
    prefix: str
    transport: Transport
    connection: str | None = None
    exchange: str | None = None
    routes: tuple[Route, ...] = ()
    continue_on_exception: bool = False


@dataclass(frozen=True)
class Retry:
    """Seconds to wait before each new attempt; after the last one a message is dead-lettered."""

    delays: tuple[float, ...]


@dataclass(frozen=True)
class Queue:
    """A queue, its declaration arguments and its failure policy."""

    name: str
    consumer: str | None = None
    prefetch: int = DEFAULT_PREFETCH
    durable: bool = True
    exclusive: bool = False
    auto_delete: bool = False
    arguments: Mapping[str, ArgumentValue] = field(default_factory=frozen_mapping)
    retry: Retry | None = None
    dead_letter_queue: str = ""
    schema: str | None = None
    #: Bodies larger than this are dead-lettered undecoded; None: DEFAULT_MAX_BODY_BYTES.
    max_body_bytes: int | None = None
    #: Media types (or ``*/*``) handed to the task undecoded; JSON and form always are decoded.
    accept: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.dead_letter_queue:
            object.__setattr__(self, "dead_letter_queue", default_dead_letter_queue(self.name))

    @property
    def body_limit(self) -> int:
        return DEFAULT_MAX_BODY_BYTES if self.max_body_bytes is None else self.max_body_bytes

    @property
    def queue_type(self) -> str:
        return str(self.arguments.get("x-queue-type", "classic"))

    @property
    def retry_queues(self) -> tuple[tuple[float, str], ...]:
        """(delay, delay-queue name) per distinct retry delay, in ascending delay order."""
        if self.retry is None:
            return ()
        return tuple((d, retry_queue_name(self.name, d)) for d in sorted(set(self.retry.delays)))


@dataclass(frozen=True)
class Task:
    """A Python callable run for each message of ``queue``."""

    name: str
    task: str
    queue: str
    root_factory: str | None = None
    timeout: float | None = None


#: What a scheduler does with runs missed while none ran: fire one of them, or none.
Missed = Literal["fire", "skip"]


@dataclass(frozen=True)
class Schedule:
    """A periodic publish: every ``every`` seconds or at each time ``cron`` names (in
    ``timezone``), ``body`` (canonical JSON text) published by ``publisher_consumer`` with
    ``routing_key``. ``task``: the task it was written for, when the topology named one."""

    name: str
    publisher_consumer: str
    routing_key: str
    body: str = "{}"
    every: float | None = None
    cron: str | None = None
    timezone: str = "UTC"
    missed: Missed = "fire"
    task: str | None = None


@dataclass(frozen=True)
class Topology:
    """A whole, validated topology. Mappings are read-only and sorted by name."""

    version: int
    connections: Mapping[str, Connection]
    publisher_consumers: Mapping[str, PublisherConsumer]
    queues: Mapping[str, Queue]
    tasks: Mapping[str, Task]
    scan: tuple[str, ...] = ()
    schedules: Mapping[str, Schedule] = field(default_factory=frozen_mapping)
    #: import paths of middleware factories, in the order they run
    middleware: tuple[str, ...] = ()
    #: whether the delay ladder is declared (``delays: true``): ``publish(delay=...)`` needs it
    delays: bool = False

    def task_for_queue(self, queue: str) -> Task | None:
        return next((t for t in self.tasks.values() if t.queue == queue), None)

    def effective_routes(self, name: str) -> tuple[Route, ...]:
        """Its routes plus each queue it consumes by its own name, sorted (its bindings)."""
        routes = set(self.publisher_consumers[name].routes)
        routes.update(Route(q.name, q.name) for q in self.queues.values() if q.consumer == name)
        return tuple(sorted(routes, key=lambda r: (r.pattern, r.queue)))


def default_dead_letter_queue(queue: str) -> str:
    """Name of the queue where ``queue``'s failed messages end up, unless set in the topology."""
    return f"{queue}.dead"


def format_seconds(seconds: float) -> str:
    """``5`` -> ``5s``, ``0.25`` -> ``250ms``: short, stable, valid in a queue name."""
    if float(seconds).is_integer():
        return f"{int(seconds)}s"
    return f"{round(seconds * 1000)}ms"


def retry_queue_name(queue: str, delay: float) -> str:
    """Name of the queue that holds ``queue``'s messages for ``delay`` seconds before a retry."""
    return f"{queue}.retry.{format_seconds(delay)}"
