"""What ``mqctl`` works out before and after talking to the broker: pure, no pika, no I/O.

The plan of what exists on which broker comes from the same ``declarations`` the worker
applies; dead-lettered messages are read from the ``x-mqwire-*`` headers ``dispatch`` writes;
replayed messages get those headers stripped and their attempt counter reset.
"""

from __future__ import annotations

import datetime
import enum
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mqwire.topology import delays
from mqwire.topology.declarations import Declarations, QueueDeclaration, declarations

from ..dispatch import (
    ATTEMPT_HEADER,
    ATTEMPTS_HEADER,
    EXCEPTION_HEADER,
    FAILED_AT_HEADER,
    QUEUE_HEADER,
    REASON_HEADER,
    TASK_HEADER,
)
from ..errors import ConfigurationError
from ..tls import TlsSettings
from ..wiring.factories import ConsumerSpec
from ..wiring.registry import Registry
from .verify import UNCHECKED_WITH_API, UNVERIFIABLE, Finding

#: Headers ``dispatch`` adds to a dead-lettered copy; a replay removes them.
FAILURE_HEADERS = (
    REASON_HEADER,
    EXCEPTION_HEADER,
    TASK_HEADER,
    QUEUE_HEADER,
    ATTEMPTS_HEADER,
    FAILED_AT_HEADER,
)


class AdminExit(enum.IntEnum):
    """``mqctl``'s exit status."""

    OK = 0
    DRIFT = 1  #: ``verify`` found the broker differs from the topology
    ERROR = 2  #: bad usage or config, refused operation, failed publish
    UNREACHABLE = 3  #: the broker could not be reached
    MISMATCH = 4  #: ``apply``: a queue or exchange exists with other arguments
    UNCONFIRMED = 7  #: ``apply --prune``: removals not confirmed (no TTY, no ``--yes``)


@dataclass(frozen=True)
class Target:
    """One broker URL (with its TLS settings) and everything the topology declares there."""

    url: str
    plan: Declarations
    tls: TlsSettings | None = None

    def queue(self, name: str) -> QueueDeclaration | None:
        return next((q for q in self.plan.queues if q.name == name), None)


def targets(registry: Registry) -> list[Target]:
    """The declaration plan per broker URL and TLS, over every amqp publisher_consumer."""
    by_url: dict[tuple[str, TlsSettings | None], list[Any]] = {}
    for name in sorted(registry.components):
        spec = registry.consumer(name)
        if isinstance(spec, ConsumerSpec) and spec.settings.url:
            by_url.setdefault((spec.settings.url, spec.settings.tls), []).append(spec.settings)
    if not by_url:
        raise ConfigurationError("no amqp publisher_consumer with a url in this topology")
    return [
        Target(url, declarations(s, registry.queues, delays=registry.delays), tls)
        for (url, tls), s in by_url.items()
    ]


def queue_kind(registry: Registry, name: str) -> str:
    """``queue``, ``retry`` (a retry's delay queue), ``dead`` (a dead-letter queue) or
    ``delay`` (a level of the delayed publishes' ladder)."""
    if name.startswith(delays.LEVEL_PREFIX):
        return "delay"
    for queue in registry.queues.values():
        if name == queue.dead_letter_queue:
            return "dead"
        if any(name == retry for _, retry in queue.retry_queues):
            return "retry"
    return "queue"


def find_queue(found: Sequence[Target], name: str, *, allow_any: bool) -> Target:
    """The target declaring queue ``name`` (the first one when ``allow_any`` and none does)."""
    for target in found:
        if target.queue(name) is not None:
            return target
    if allow_any:
        return found[0]
    known = sorted({q.name for t in found for q in t.plan.queues})
    raise ConfigurationError(
        f"queue {name!r} is not in the topology (use --any to act on it anyway); "
        f"known: {', '.join(known) or 'none'}"
    )


def dead_letter_queue_of(registry: Registry, name: str) -> tuple[str, str]:
    """(queue, its dead-letter queue) for a queue name or a dead-letter queue name."""
    if name in registry.queues:
        return name, registry.dead_letter_queue(name)
    for queue in registry.queues.values():
        if queue.dead_letter_queue == name:
            return queue.name, name
    raise ConfigurationError(
        f"queue {name!r} is not in the topology; known: {', '.join(sorted(registry.queues))}"
    )


@dataclass(frozen=True)
class QueueRow:
    name: str
    kind: str
    ready: int | None  #: None: the queue does not exist on the broker
    unacked: int | None  #: None: not available (AMQP only, or no figure yet)
    consumers: int | None

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "exists": self.ready is not None,
            "ready": self.ready,
            "unacked": self.unacked,
            "consumers": self.consumers,
        }


def format_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Left-aligned text columns; ``None`` cells show as ``n/a``; numbers right-aligned."""
    cells = [[str(h) for h in headers]]
    numeric = [False] * len(headers)
    for row in rows:
        cells.append(["n/a" if v is None else str(v) for v in row])
        for i, v in enumerate(row):
            numeric[i] = numeric[i] or isinstance(v, int)
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        parts = [
            c.rjust(w) if numeric[i] else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def queue_table(rows: Sequence[QueueRow]) -> str:
    body = [
        (r.name, r.kind, r.ready, r.unacked, r.consumers)
        if r.ready is not None
        else (r.name, r.kind + " (missing)", None, None, None)
        for r in rows
    ]
    return format_table(["queue", "kind", "ready", "unacked", "consumers"], body)


@dataclass(frozen=True)
class DeadLetter:
    """A message in a dead-letter queue and why it got there."""

    message_id: str
    reason: str
    exception: str
    attempts: int | None
    task: str
    queue: str
    failed_at: str
    body: str

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return "" if value is None else str(value)


def read_dead_letter(
    properties: Mapping[str, Any], body: bytes, *, preview: int = 80
) -> DeadLetter:
    headers = properties.get("headers") or {}
    failed_at = headers.get(FAILED_AT_HEADER)
    when = ""
    if isinstance(failed_at, int) and not isinstance(failed_at, bool):
        stamp = datetime.datetime.fromtimestamp(failed_at, datetime.UTC)
        when = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    attempts = headers.get(ATTEMPTS_HEADER)
    text = body.decode("utf-8", errors="replace")
    return DeadLetter(
        message_id=_text(properties.get("message_id")),
        reason=_text(headers.get(REASON_HEADER)),
        exception=_text(headers.get(EXCEPTION_HEADER)),
        attempts=attempts if isinstance(attempts, int) else None,
        task=_text(headers.get(TASK_HEADER)),
        queue=_text(headers.get(QUEUE_HEADER)),
        failed_at=when,
        body=text if len(text) <= preview else text[: preview - 1] + "…",
    )


def dead_letter_table(letters: Sequence[DeadLetter]) -> str:
    rows = [
        (d.message_id, d.failed_at, d.task, d.attempts, d.exception, d.reason, d.body)
        for d in letters
    ]
    return format_table(
        ["message_id", "failed_at", "task", "attempts", "exception", "reason", "body"], rows
    )


def replay_properties(properties: Mapping[str, Any]) -> dict[str, Any]:
    """The properties to put a dead-lettered message back with: as first published."""
    headers = {
        k: v for k, v in (properties.get("headers") or {}).items() if k not in FAILURE_HEADERS
    }
    headers[ATTEMPT_HEADER] = 1
    return {**properties, "headers": headers}


def selected(properties: Mapping[str, Any], queue: str, ids: Sequence[str], every: bool) -> bool:
    """Whether a replay to ``queue`` takes the message: ``--all`` or its id among ``--id``.

    A dead-letter queue shared by several queues holds messages of each: only those whose
    ``x-mqwire-queue`` names ``queue`` (or that lack the header) go back to it.
    """
    origin = _text((properties.get("headers") or {}).get(QUEUE_HEADER))
    if origin and origin != queue:
        return False
    return every or _text(properties.get("message_id")) in ids


def check_selection(ids: Sequence[str], replay_all: bool) -> None:
    if bool(ids) == replay_all:
        raise ConfigurationError("replay needs either --all or one or more --id MESSAGE_ID")


def verify_report(findings: Sequence[Finding], bindings: int, *, api: bool = False) -> str:
    """The findings, drift first, and what could not be checked.

    ``api``: the bindings were compared through the management API (``bindings`` is then
    ignored); otherwise ``bindings`` of them were not checked.
    """
    order = sorted(findings, key=lambda f: (not f.drift, f.kind, f.name))
    rows = [(f.state.upper(), f.kind, f.name, f.detail) for f in order]
    drift = sum(f.drift for f in findings)
    what = "exchanges, queues and bindings" if api else "exchanges and queues"
    summary = (
        f"{drift} of {len(findings)} declarations differ from the topology"
        if drift
        else f"all {len(findings)} {what} match the topology"
    )
    notes = (
        f"not checked: {UNCHECKED_WITH_API}"
        if api
        else f"not checked: {bindings} binding(s); {UNVERIFIABLE}"
    )
    return "\n".join([format_table(["state", "kind", "name", "detail"], rows), summary, notes])


def say_node(node: str) -> None:
    """Tell which node of a cluster a command is on (stderr: the output stays parseable)."""
    print(f"mqctl: on node {node}", file=sys.stderr)
