"""The two sides of the transport contract suite (``tests/runtime/contract/``), seen alike.

A ``Side`` publishes with its registry's ``jobs`` publisher, puts a message straight into a
queue as a producer that checks nothing would (``inject``), and, once everything has run
(``settle``), tells what the tasks received, what was dead-lettered with which ``x-mqwire-*``
headers, and what the queue no worker consumes (``outside``) holds: read from the local broker on
one side, from the record file and RabbitMQ's queues (``basic_get``) on the other.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pika  # type: ignore[import-untyped]
from mserve_harness import get_all

from mqwire.runtime import Registry, load
from mqwire.runtime.dispatch import FAILED_AT_HEADER, Delivery
from mqwire.runtime.wire import new_message_id
from mqwire.testing import WorkerProcess

#: The queue of the suite's topology that no worker consumes (it has no ``consumer:``).
HELD = "outside"


@dataclass(frozen=True)
class DeadLetter:
    """A dead-lettered message: its dead-letter queue, body and ``x-mqwire-*`` headers but the
    time (checked to be a whole number of seconds)."""

    queue: str
    body: bytes
    headers: dict[str, Any]


@dataclass(frozen=True)
class Observed:
    runs: list[dict[str, Any]]  #: what each task run received, in the order they ran
    dead_letters: list[DeadLetter]
    #: bodies held by queue: the one no worker consumes, and a dead-letter queue that was
    #: published to (what no worker dead-lettered: no ``x-mqwire-failed-at`` header)
    held: dict[str, list[bytes]]


def dead_letter(queue: str, body: bytes, headers: dict[str, Any]) -> DeadLetter:
    mine = {k: v.decode() if isinstance(v, bytes) else v for k, v in headers.items()}
    mine = {k: v for k, v in mine.items() if k.startswith("x-mqwire-")}
    assert isinstance(mine.pop(FAILED_AT_HEADER), int)
    return DeadLetter(queue, body, mine)


def read_runs(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


@dataclass
class Side:
    transport: str
    registry: Registry
    runs_file: Path
    inject: Callable[[str, bytes, str], None]
    observe: Callable[[], Observed]

    def publish(self, body: Any, routing_key: str, **options: Any) -> str:
        return self.registry.publisher("jobs").publish(body, routing_key, **options)

    def settle(self) -> Observed:
        """What happened, once every message has run to its end."""
        return self.observe()


def _properties(content_type: str) -> dict[str, Any]:
    return {"content_type": content_type, "message_id": new_message_id(), "delivery_mode": 2}


def local_side(registry: Registry, runs_file: Path) -> Side:
    broker = registry.local_broker

    def inject(queue: str, body: bytes, content_type: str) -> None:
        broker.enqueue(Delivery(queue, body, _properties(content_type), queue))
        broker.run()

    def observe() -> Observed:
        dead = [dead_letter(d.dead_letter_queue, d.delivery.body, dict(d.delivery.headers))
                for d in broker.dead_letters]  # fmt: skip
        held = {queue: [d.body for d in held] for queue, held in broker.undelivered.items()}
        return Observed(read_runs(runs_file), dead, held)

    return Side("local", registry, runs_file, inject, observe)


def dead_letter_queues(ini: Path, url: str) -> list[str]:
    registry = load(ini, environ={"AMQP_URL": url})
    try:
        return sorted(q.dead_letter_queue for q in registry.queues.values() if q.consumer)
    finally:
        registry.close()


def _take_all(url: str, queues: list[str]) -> list[tuple[str, Any, bytes]]:
    return [(q, props, body) for q in queues for props, body in get_all(url, q)]


@contextlib.contextmanager
def mserve_side(
    worker: WorkerProcess, runs_file: Path, url: str, dead_letter_queues: list[str]
) -> Iterator[Side]:
    """The module's worker, with what earlier tests left (records, dead letters) cleared."""
    registry = load(worker.ini, environ={"AMQP_URL": url})
    runs_file.write_text("")
    _take_all(url, [*dead_letter_queues, HELD])

    def inject(queue: str, body: bytes, content_type: str) -> None:
        with pika.BlockingConnection(pika.URLParameters(url)) as connection:
            channel = connection.channel()
            channel.confirm_delivery()
            props = pika.BasicProperties(**_properties(content_type))
            channel.basic_publish("", queue, body, props, mandatory=True)

    taken: list[tuple[str, Any, bytes]] = []

    def observe() -> Observed:
        try:
            worker.wait_idle()
        except AssertionError as exc:
            exc.add_note(f"mserve's log:\n{worker.output()[-4000:]}")
            raise
        taken.extend(_take_all(url, [*dead_letter_queues, HELD]))
        dead, held = [], {}
        for queue, properties, body in taken:
            headers = dict(properties.headers or {})
            if FAILED_AT_HEADER in headers:
                dead.append(dead_letter(queue, body, headers))
            else:
                held.setdefault(queue, []).append(body)
        return Observed(read_runs(runs_file), dead, held)

    try:
        yield Side("mserve", registry, runs_file, inject, observe)
        worker.wait_idle()  # nothing of this test runs into the next one
    finally:
        registry.close()
