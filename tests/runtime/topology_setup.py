"""Support for the runtime tests: compile a topology, declare it, and deliver what is queued.

``deliver`` stands in for the worker when a test needs messages run over the real broker:
it reads each queue with ``basic_get`` and runs the same ``dispatch`` the worker runs, so a
test sees what a task would see after a real round trip through RabbitMQ.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pika  # type: ignore[import-untyped]

from mqwire.compiler import CompileOptions, compile_topology
from mqwire.runtime import Registry, load
from mqwire.runtime.dispatch import Delivery, Outcome
from mqwire.runtime.publish.inline import dispatch
from mqwire.runtime.wire import properties_dict
from mqwire.topology import load_topology
from mqwire.topology.declarations import Declarations, declarations


def compile_into(folder: Path, topology_yaml: str, transport: str | None = None) -> Path:
    """Write ``topology.yaml``, compile it there (optionally to one transport); the INI path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "topology.yaml").write_text(topology_yaml, encoding="utf-8")
    topology = load_topology(topology_yaml, scanner=None)
    options = CompileOptions(transport=transport)  # type: ignore[arg-type]
    output = compile_topology(topology, options)
    (folder / "compiled.ini").write_text(output.ini, encoding="utf-8")
    (folder / options.registry_file).write_text(output.registry_py, encoding="utf-8")
    return folder / "compiled.ini"


def plan(registry: Registry) -> Declarations:
    consumers = [registry.consumer(name).settings for name in registry.components]
    return declarations(consumers, registry.queues, delays=registry.delays)


def declare(url: str, registry: Registry) -> Declarations:
    """Declare everything the registry's publisher_consumers need, as the worker will."""
    return apply(url, plan(registry))


def apply(url: str, wanted: Declarations) -> Declarations:
    with pika.BlockingConnection(pika.URLParameters(url)) as connection:
        channel = connection.channel()
        for exchange in wanted.exchanges:
            channel.exchange_declare(exchange.name, exchange.type, durable=exchange.durable)
        for queue in wanted.queues:
            channel.queue_declare(**queue.declare_kwargs())
        for binding in wanted.bindings:
            if binding.destination_type == "exchange":  # the delay ladder's
                channel.exchange_bind(binding.queue, binding.exchange, binding.routing_key)
            else:
                channel.queue_bind(binding.queue, binding.exchange, binding.routing_key)
    return wanted


@contextlib.contextmanager
def declared(ini: Path, url: str) -> Iterator[Registry]:
    """The registry of ``ini`` on ``url`` (its ``${AMQP_URL}``), its plan declared and its
    queues emptied; closed afterwards."""
    registry = load(ini, environ={"AMQP_URL": url})
    try:
        declare(url, registry)
        purge(url, registry)
        yield registry
    finally:
        registry.close()


def purge(url: str, registry: Registry) -> None:
    with pika.BlockingConnection(pika.URLParameters(url)) as connection:
        channel = connection.channel()
        for queue in plan(registry).queues:
            channel.queue_purge(queue.name)


def counts(url: str, names: list[str]) -> dict[str, int]:
    """Ready messages per queue (passive declares)."""
    with pika.BlockingConnection(pika.URLParameters(url)) as connection:
        channel = connection.channel()
        return {n: channel.queue_declare(n, passive=True).method.message_count for n in names}


def deliver(url: str, registry: Registry, queues: list[str]) -> list[tuple[Delivery, Outcome]]:
    """Run every message waiting in ``queues`` (and what their tasks publish) until all are empty.

    Each message is acked after its task ran, whatever the outcome: retries and dead letters
    are the worker's business; the outcomes are returned for the test to look at.
    """
    outcomes: list[tuple[Delivery, Outcome]] = []
    with pika.BlockingConnection(pika.URLParameters(url)) as connection:
        channel = connection.channel()
        busy = True
        while busy:
            busy = False
            for queue in queues:
                method, properties, body = channel.basic_get(queue)
                if method is None:
                    continue
                busy = True
                delivery = Delivery(
                    queue=queue,
                    body=body,
                    properties=properties_dict(properties),
                    routing_key=method.routing_key,
                    exchange=method.exchange,
                    redelivered=method.redelivered,
                    delivery_tag=method.delivery_tag,
                )
                outcome = dispatch(
                    delivery,
                    registry.queue_policy(queue),
                    registry=registry,
                    settings=registry.settings,
                )
                outcomes.append((delivery, outcome))
                channel.basic_ack(method.delivery_tag)
    return outcomes


def connection_pids(rabbitmqctl: Callable[..., str], name: str) -> list[str]:
    """Pids of the broker's connections whose client-provided connection_name is ``name``."""
    out = rabbitmqctl("list_connections", "--no-table-headers", "pid", "client_properties")
    tag = f'{{"connection_name","{name}"}}'
    return [line.split("\t", 1)[0] for line in out.splitlines() if tag in line]


def dead_node(url: str) -> str:
    """``url`` with its port replaced by one where nothing listens: a dead node, as a client
    sees one."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit(":", 1)[0] + f":{port}"))
