"""Cross-reference checks that JSON Schema cannot express, run on the parsed data.

They tolerate data that failed the schema (skipping what they cannot read), so one run
reports schema and semantic problems together.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from . import delays
from ._yaml import locate
from .amqp_url import topology_url_problems
from .check_state import CheckState
from .credentials import literal_password_problem
from .errors import PathPart, TopologyError
from .message_schema import message_schema_problem
from .model import default_dead_letter_queue, retry_queue_name
from .placeholders import placeholder_problems
from .queue_defaults import (
    check_dead_letter_target,
    check_default_arguments,
    check_queue_arguments,
)
from .routing import pattern_problem
from .schedules import check_schedules
from .task_checks import check_tasks
from .tls_checks import check_tls

#: A media type as ``accept:`` takes it.
MEDIA_TYPE = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}|\*/\*"
)
#: Names RabbitMQ reserves for itself (declaring one fails with 403 ACCESS_REFUSED).
RESERVED_PREFIX = "amq."


def reserved(kind: str, name: str) -> str | None:
    """Why ``name`` cannot be an exchange or queue name of the topology, or None."""
    if name.startswith(RESERVED_PREFIX):
        return f"{kind} names starting with {RESERVED_PREFIX!r} are reserved by RabbitMQ"
    if name.startswith(delays.PREFIX + "."):
        ladder = f"'{delays.PREFIX}.'"
        return f"{kind} names starting with {ladder} are reserved for mqwire's delay ladder"
    return None


def _one_of(names: Iterable[str]) -> str:
    known = sorted(names)
    return f" (one of {', '.join(repr(n) for n in known)})" if known else ""


class SemanticChecker(CheckState):
    """Collects every cross-reference problem of one topology."""

    def run(self) -> list[TopologyError]:
        self.check_connections()
        self.check_publisher_consumers()
        self.check_queues()
        check_tasks(self)
        check_schedules(self)
        return self.errors

    def check_connections(self) -> None:
        for name, connection in self.connections.items():
            check_tls(self, name, connection)
            url, path = connection.get("url"), ("connections", name, "url")
            if isinstance(url, str):
                self.check_url(path, url)
            elif isinstance(url, list):
                for index, one in enumerate(url):
                    if isinstance(one, str):
                        self.check_url((*path, index), one)

    def check_url(self, path: tuple[PathPart, ...], url: str) -> None:
        """One node's URL: placeholders, structure (as the runtime will read it), password."""
        placeholders = placeholder_problems(url)
        for problem in placeholders:
            self.error(path, problem)
        if not placeholders:
            for problem, hint in topology_url_problems(url):
                self.error(path, problem, hint=hint)
        password = literal_password_problem(url)
        if password and not self.allow_literal_password:
            self.error(path, password, hint="or pass --allow-literal-password if this is intended")

    def check_publisher_consumers(self) -> None:
        prefixes: dict[str, str] = {}
        for name, pc in self.publisher_consumers.items():
            base: tuple[PathPart, ...] = ("publisher_consumers", name)
            transport = pc.get("transport", "amqp")
            if "connection" in pc:
                self.reference(
                    (*base, "connection"), "connection", pc["connection"], self.connections
                )
            elif transport == "amqp":
                self.error(
                    base,
                    f"amqp publisher_consumer {name!r} needs a connection",
                    key=True,
                    hint="add `connection: NAME`" + _one_of(self.connections),
                )
            exchange = pc.get("exchange")
            why = reserved("exchange", exchange) if isinstance(exchange, str) else None
            if why is not None:
                self.error((*base, "exchange"), why)
            self.check_routes(name, pc, transport)
            prefix = pc.get("prefix")
            if isinstance(prefix, str):
                self.check_prefix(name, prefix, prefixes)

    def check_prefix(self, name: str, prefix: str, seen: dict[str, str]) -> None:
        path: tuple[PathPart, ...] = ("publisher_consumers", name, "prefix")
        for other_name, other in seen.items():
            other_loc = locate(self.parsed, ("publisher_consumers", other_name, "prefix"))
            if other == prefix:
                self.error(
                    path, f"prefix {prefix!r} is also used by {other_name!r}", related=[other_loc]
                )
            elif prefix.startswith(other + ".") or other.startswith(prefix + "."):
                self.error(
                    path,
                    f"prefix {prefix!r} overlaps prefix {other!r} of "
                    f"{other_name!r}; their settings keys would collide",
                    related=[other_loc],
                )
        seen[name] = prefix

    def check_routes(self, name: str, pc: Mapping[str, Any], transport: Any) -> None:
        routes = pc.get("routes")
        if not isinstance(routes, Mapping) or not routes:
            return
        base: tuple[PathPart, ...] = ("publisher_consumers", name, "routes")
        if transport == "amqp" and "exchange" not in pc:
            self.error(
                base,
                "routes on an amqp publisher_consumer need an exchange",
                key=True,
                hint="add `exchange: NAME` (a topic exchange: routes become its bindings)",
            )
        for pattern, target in routes.items():
            if not isinstance(pattern, str):
                continue
            problem = pattern_problem(pattern)
            if problem:
                self.error((*base, pattern), problem, key=True)
            targets = (
                [(target, ())]
                if isinstance(target, str)
                else ([(t, (i,)) for i, t in enumerate(target)] if isinstance(target, list) else [])
            )
            for queue, index in targets:
                self.reference((*base, pattern, *index), "queue", queue, self.queues)

    def check_queues(self) -> None:
        derived: dict[str, tuple[PathPart, ...]] = {}
        defaults = check_default_arguments(self)
        for name, queue in self.queues.items():
            base: tuple[PathPart, ...] = ("queues", name)
            why = reserved("queue", name)
            if why is not None:
                self.error(base, why, key=True)
            if "consumer" in queue:
                self.reference(
                    (*base, "consumer"),
                    "publisher_consumer",
                    queue["consumer"],
                    self.publisher_consumers,
                )
            check_queue_arguments(self, name, queue, defaults)
            self.check_schema_path(name, queue)
            self.check_accept(name, queue)
            for derived_name, path in self.derived_names(name, queue):
                self.check_derived(derived_name, path, derived)
        # Only now is every queue known, a dead-letter routing key's target included.
        explicit = (q.get("dead_letter_queue") for q in self.queues.values())
        declared = {*self.queues, *derived, *(d for d in explicit if isinstance(d, str))}
        for name, queue in self.queues.items():
            check_dead_letter_target(self, name, queue, defaults, declared)

    def check_accept(self, name: str, queue: Mapping[str, Any]) -> None:
        """Each entry a media type (``text/plain``) or ``*/*``, matched whole."""
        accept = queue.get("accept")
        for index, media in enumerate(accept if isinstance(accept, list) else []):
            # (a control character is reported by the text checks already)
            if isinstance(media, str) and media.isprintable() and not MEDIA_TYPE.fullmatch(media):
                self.error(
                    ("queues", name, "accept", index),
                    f"{media!r} is not a media type such as 'text/plain', or '*/*'",
                )

    def check_schema_path(self, name: str, queue: Mapping[str, Any]) -> None:
        schema = queue.get("schema")
        if not isinstance(schema, str):
            return
        path: tuple[PathPart, ...] = ("queues", name, "schema")
        if posixpath.isabs(schema) or schema[1:3] == ":\\":
            self.error(
                path,
                "the schema path must be relative to the topology file, so "
                "compiled files hold no absolute paths",
            )
        elif self.read_file is not None:
            problem = message_schema_problem(schema, self.read_file)
            if problem:
                self.error(path, problem)

    def derived_names(
        self, name: str, queue: Mapping[str, Any]
    ) -> list[tuple[str, tuple[PathPart, ...]]]:
        """Queues mqwire declares for ``name`` (retry delays; the default dead-letter queue)."""
        out: list[tuple[str, tuple[PathPart, ...]]] = []
        retry = queue.get("retry")
        delays = retry.get("delays") if isinstance(retry, Mapping) else None
        for index, delay in enumerate(delays if isinstance(delays, list) else []):
            path: tuple[PathPart, ...] = ("queues", name, "retry", "delays", index)
            if isinstance(delay, (int, float)) and not isinstance(delay, bool) and delay > 0:
                if Decimal(repr(float(delay))).as_tuple().exponent < -3:  # type: ignore[operator]
                    self.error(path, f"retry delay {delay} is finer than a millisecond")
                elif retry_queue_name(name, delay) not in (n for n, _ in out):
                    out.append((retry_queue_name(name, delay), path))
        dead = queue.get("dead_letter_queue")
        if dead == name:
            self.error(
                ("queues", name, "dead_letter_queue"), "a queue cannot be its own dead-letter queue"
            )
        elif dead is None:
            out.append((default_dead_letter_queue(name), ("queues", name)))
        return out

    def check_derived(
        self, name: str, path: tuple[PathPart, ...], seen: dict[str, tuple[PathPart, ...]]
    ) -> None:
        if name in self.queues:
            self.error(
                path,
                f"mqwire declares queue {name!r} for this queue, but the topology declares it too",
                key=True,
                related=[locate(self.parsed, ("queues", name), key=True)],
                hint="rename one, or set dead_letter_queue explicitly",
            )
        elif name in seen:
            self.error(
                path,
                f"derived queue name {name!r} is also derived for another queue",
                key=True,
                related=[locate(self.parsed, seen[name], key=True)],
            )
        else:
            seen[name] = path
