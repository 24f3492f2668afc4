"""Support for the worker tests: run ``mserve`` as a real process and watch the broker settle.

The processes come from the pytest plugin's ``mqwire_worker`` (``Mserve`` is its handle), and
nothing here sleeps a fixed time: its ``wait_until`` polls a condition (broker counts, the
tasks' record file, the process) until it holds or a deadline passes.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote

import pika  # type: ignore[import-untyped]
import topology_setup as wiring

from mqwire.runtime import Registry
from mqwire.testing import WorkerProcess, wait_until

#: A running ``mserve``: the plugin's handle (``mqwire_worker``).
Mserve = WorkerProcess

HERE = Path(__file__).parent
T = TypeVar("T")

TOPOLOGY = """\
version: 1
connections:
  main: {url: "${AMQP_URL}", heartbeat: HEARTBEAT}
publisher_consumers:
  work:
    prefix: work.mq
    transport: amqp
    connection: main
queues:
  fast: {consumer: work, prefetch: 50}
  coro: {consumer: work, prefetch: 50}
  slow: {consumer: work, prefetch: 1}
  flaky: {consumer: work, retry: {delays: [0.05, 0.1]}}
  checked: {consumer: work, schema: checked.json}
tasks:
  record: {task: "mserve_app:record", queue: fast}
  record_async: {task: "mserve_app:record_async", queue: coro}
  slow: {task: "mserve_app:slow", queue: slow}
  fail_when_bad: {task: "mserve_app:fail_when_bad", queue: flaky}
  checked: {task: "mserve_app:record", queue: checked}
"""

QUEUES = ["fast", "coro", "slow", "flaky", "checked"]

CHECKED_SCHEMA = '{"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}}'


def topology(heartbeat: int = 30, delays: bool = False) -> str:
    """The test topology; with ``delays``, it declares the delay ladder too."""
    text = TOPOLOGY.replace("HEARTBEAT", str(heartbeat))
    return text + "delays: true\n" if delays else text


#: The start of a test topology of its own: one connection and the ``work`` publisher_consumer;
#: the test adds its ``queues:`` and ``tasks:``.
WORK_TOPOLOGY_HEAD = """\
version: 1
connections:
  main: {url: "${AMQP_URL}", heartbeat: 30}
publisher_consumers:
  work: {prefix: work.mq, transport: amqp, connection: main}
"""

#: The queues of the hook tests (middleware, tracing): a plain and an async task, one failing
#: when asked (retried once, then dead-lettered), one publishing a follow-up to ``followups``.
_HOOKED_QUEUES = """\
queues:
  fast: {consumer: work}
  coro: {consumer: work}
  flaky: {consumer: work, retry: {delays: [0.05]}}
  follow: {consumer: work}
  followups: {consumer: work}
tasks:
  record: {task: "mserve_app:record", queue: fast}
  record_async: {task: "mserve_app:record_async", queue: coro}
  fail_when_bad: {task: "mserve_app:fail_when_bad", queue: flaky}
  follow: {task: "mserve_app:gated", queue: follow}
  followups: {task: "mserve_app:record", queue: followups}
"""

#: What the hook tests publish, as (id, queue, more of the body): id 3 fails every attempt.
HOOKED_MESSAGES: list[tuple[int, str, dict[str, object]]] = [
    (1, "fast", {}), (2, "coro", {}), (3, "flaky", {"bad": 1}), (4, "follow", {}),
]  # fmt: skip


def hooked_topology(middleware: str) -> str:
    """The hook tests' topology, ``middleware`` (``module:name``) around its tasks and publishes."""
    return f'{WORK_TOPOLOGY_HEAD}{_HOOKED_QUEUES}middleware: ["{middleware}"]\n'


def publish_hooked(registry: Registry) -> None:
    """Publish ``HOOKED_MESSAGES`` through ``work``, each confirmed before the next."""
    publisher = registry.publisher("work")
    for id_, queue, extra in HOOKED_MESSAGES:
        publisher.publish({"id": id_, **extra}, routing_key=queue)


@contextlib.contextmanager
def declared_topology(
    folder: Path, topology_yaml: str, url: str
) -> Iterator[tuple[Path, Registry]]:
    """``topology_yaml`` compiled into ``folder`` and declared on ``url`` with its queues empty:
    the INI for ``mserve``, and a registry to publish with (closed afterwards)."""
    ini = wiring.compile_into(folder, topology_yaml)
    with wiring.declared(ini, url) as registry:
        yield ini, registry


def mserve_environ(url: str, folder: Path) -> dict[str, str]:
    """What a worker on the test apps needs besides the plugin's environment: the broker's URL,
    the record file ``folder/records.txt`` and the test apps on its ``PYTHONPATH``."""
    return {
        "AMQP_URL": url,
        "MSERVE_TEST_LOG": str(folder / "records.txt"),
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }


def vhost_of(url: str) -> str:
    return unquote(url.rsplit("/", 1)[1])


def publish_ids(registry: Registry, queue: str, ids: range, **extra: object) -> set[str]:
    """Publish ``{"id": n, **extra}`` for each ``n`` (confirmed); the ids as strings."""
    publisher = registry.publisher("work")
    with publisher.batch():
        for n in ids:
            publisher.publish({"id": n, **extra}, routing_key=queue)
    return {str(n) for n in ids}


def events(path: Path) -> list[tuple[str, str, str, int]]:
    """Every line of the record file as ``(event, queue, id, pid)``, in order."""
    if not path.exists():
        return []
    lines = (line.split() for line in path.read_text().splitlines())
    return [(event, queue, id_, int(pid)) for event, queue, id_, pid in lines]


def records(path: Path, event: str = "done", queue: str | None = None) -> list[str]:
    """The ids of ``event`` lines, in order (repeats kept: at-least-once shows as repeats)."""
    if not path.exists():
        return []
    ids = []
    for line in path.read_text().splitlines():
        fields = line.split()
        if fields[0] == event and (queue is None or fields[1] == queue):
            ids.append(fields[2])
    return ids


def queue_state(url: str, names: Iterable[str]) -> dict[str, tuple[int, int]]:
    """(ready messages, consumers) per queue, by passive declare over AMQP."""
    with pika.BlockingConnection(pika.URLParameters(url)) as connection:
        channel = connection.channel()
        state = {}
        for name in names:
            method = channel.queue_declare(name, passive=True).method
            state[name] = (method.message_count, method.consumer_count)
        return state


def unacked(rabbitmqctl: Callable[..., str], vhost: str) -> dict[str, int]:
    """Unacknowledged messages per queue of ``vhost`` (only rabbitmqctl reports them)."""
    out = rabbitmqctl(
        "list_queues", "-p", vhost, "--no-table-headers", "name", "messages_unacknowledged"
    )
    return {name: int(n) for name, n in (line.split("\t") for line in out.splitlines() if line)}


def state_of(url: str, queue: str) -> tuple[int, int] | None:
    """(ready messages, consumers) of ``queue``, or ``None`` while it does not exist."""
    try:
        return queue_state(url, [queue])[queue]
    except pika.exceptions.ChannelClosedByBroker as exc:
        if exc.reply_code == 404:
            return None
        raise


def consumers_of(url: str, queue: str) -> int | None:
    """Consumers of ``queue``, or ``None`` while it does not exist."""
    state = state_of(url, queue)
    return None if state is None else state[1]


def ready_in(url: str, queue: str) -> int | None:
    """Ready messages of ``queue``, or ``None`` while it does not exist."""
    state = state_of(url, queue)
    return None if state is None else state[0]


def worker_connections(
    rabbitmqctl: Callable[..., str], vhost: str, name: str = "mserve:work"
) -> list[str]:
    """Broker pids of the connections of ``vhost`` whose connection_name is ``name``."""
    out = rabbitmqctl("list_connections", "--no-table-headers", "pid", "vhost", "client_properties")
    tag = f'{{"connection_name","{name}"}}'
    rows = (line.split("\t", 2) for line in out.splitlines() if line)
    return [pid for pid, host, props in rows if host == vhost and tag in props]


def broker_accepts(url: str) -> bool:
    """True once an AMQP connection to ``url`` opens (the broker is up again)."""
    try:
        pika.BlockingConnection(pika.URLParameters(url)).close()
    except pika.exceptions.AMQPError:
        return False
    return True


def drained(url: str, queues: Iterable[str]) -> Callable[[], bool]:
    names = list(queues)
    return lambda: all(m == 0 for m, _ in queue_state(url, names).values())


def get_all(url: str, queue: str) -> list[tuple[Any, bytes]]:
    """Take every message of ``queue`` (properties, body)."""
    taken = []
    with pika.BlockingConnection(pika.URLParameters(url)) as connection:
        channel = connection.channel()
        while True:
            method, properties, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                return taken
            taken.append((properties, body))


def all_done(path: Path, wanted: set[str]) -> Callable[[], set[str]]:
    """Condition: every wanted id has a ``done`` record; the recorded ids then."""
    return lambda: (done := set(records(path))) >= wanted and done


def settled(url: str, rabbitmqctl: Callable[..., str]) -> None:
    """Every queue empty and nothing unacknowledged (the worker acked what it finished)."""
    wait_until(drained(url, QUEUES), what="queues empty")
    wait_until(lambda: set(unacked(rabbitmqctl, vhost_of(url)).values()) == {0}, what="no unacked")
