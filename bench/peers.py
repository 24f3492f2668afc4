"""The peers, Celery and Dramatiq, measured only when importable (``pip install -e '.[bench]'``).

For each peer: how to declare its queues the way its worker does, its own message format for
the N pre-published messages (built with the peer's code, sent with raw pipelined confirms
like everyone's), how to start its worker, and its confirmed one-by-one publishing.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import signal
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import pika  # type: ignore[import-untyped]

from .broker import Vhost
from .harness import QUEUE, Process, RunConfig, worker_env
from .rawpika import Send, payload, publish_pipelined


@dataclass(frozen=True)
class Peer:
    key: str
    label: str
    #: Declare its queues as its worker does and pre-publish ``config.n`` messages.
    prepare: Callable[[RunConfig, Vhost], None]
    #: Start its worker on the vhost.
    spawn: Callable[[RunConfig, Vhost], Process]
    #: Connect a one-by-one confirmed publisher (its queues declared as its own code does).
    publisher: Callable[[Vhost], AbstractContextManager[Send]]


def versions() -> dict[str, str]:
    """Installed versions of the peers and their AMQP clients."""
    found = {}
    for name in ("celery", "kombu", "amqp", "dramatiq"):
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def installed() -> list[Peer]:
    peers = []
    if importlib.util.find_spec("celery") is not None:
        peers.append(Peer("celery", "Celery (solo pool, acks_late)", *_CELERY))
    if importlib.util.find_spec("dramatiq") is not None and importlib.util.find_spec("pika"):
        peers.append(Peer("dramatiq", "Dramatiq (1 process, 1 thread)", *_DRAMATIQ))
    return peers


# -- Celery --------------------------------------------------------------------------------


def _celery_app(vhost: Vhost, prefetch: int = 100) -> Any:
    from .celery_app import make_app

    return make_app(vhost.url, prefetch)


def _celery_prepare(config: RunConfig, vhost: Vhost) -> None:
    from kombu.serialization import dumps  # type: ignore[import-untyped]

    app = _celery_app(vhost, config.prefetch)
    with app.connection_for_write() as connection:
        app.amqp.queues[QUEUE](connection.default_channel).declare()

    def make(i: int) -> tuple[bytes, Any]:
        task_id = str(uuid.uuid4())
        headers, props, body, _ = app.amqp.as_task_v2(task_id, "bench.noop", kwargs=payload(i))
        content_type, encoding, data = dumps(body, serializer="json")
        properties = pika.BasicProperties(
            content_type=content_type, content_encoding=encoding, headers=headers,
            delivery_mode=2, priority=0, correlation_id=props["correlation_id"],
        )  # fmt: skip
        return data.encode() if isinstance(data, str) else data, properties

    publish_pipelined(vhost.url, QUEUE, config.n, make)


def _celery_spawn(config: RunConfig, vhost: Vhost) -> Process:
    argv = [
        sys.executable, "-m", "celery", "-A", "celery_app", "worker", "--pool", "solo",
        "--concurrency", "1", "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
        "--without-heartbeat", "-Q", QUEUE,
    ]  # fmt: skip
    env = worker_env(BENCH_AMQP_URL=vhost.url, BENCH_PREFETCH=str(config.prefetch))
    # SIGQUIT: a cold shutdown; it runs once every message is acked, and a warm one takes 10 s.
    return Process(argv, env, config.log_path("celery"), stop_signal=signal.SIGQUIT)


@contextlib.contextmanager
def _celery_publisher(vhost: Vhost) -> Iterator[Send]:
    app = _celery_app(vhost)
    task = app.tasks["bench.noop"]
    try:
        task.apply_async(kwargs=payload(-1))  # connects and declares: not timed

        def send(i: int) -> None:
            task.apply_async(kwargs=payload(i))

        yield send
    finally:
        app.close()


_CELERY = (_celery_prepare, _celery_spawn, _celery_publisher)


# -- Dramatiq ------------------------------------------------------------------------------


def _dramatiq_prepare(config: RunConfig, vhost: Vhost) -> None:
    import dramatiq  # type: ignore[import-untyped]

    from .dramatiq_app import QUEUE as QUEUE_NAME
    from .dramatiq_app import make_broker

    broker = make_broker(vhost.url)
    try:
        broker.declare_queue(QUEUE_NAME, ensure=True)
    finally:
        broker.close()

    def make(i: int) -> tuple[bytes, Any]:
        message = dramatiq.Message(
            queue_name=QUEUE_NAME, actor_name="noop", args=(), kwargs=payload(i), options={}
        )
        return message.encode(), pika.BasicProperties(delivery_mode=2)

    publish_pipelined(vhost.url, QUEUE_NAME, config.n, make)


def _dramatiq_spawn(config: RunConfig, vhost: Vhost) -> Process:
    argv = [
        sys.executable, "-m", "dramatiq", "dramatiq_app:broker", "--processes", "1",
        "--threads", "1",
    ]  # fmt: skip
    env = worker_env(BENCH_AMQP_URL=vhost.url, dramatiq_queue_prefetch=str(config.prefetch))
    return Process(argv, env, config.log_path("dramatiq"))


@contextlib.contextmanager
def _dramatiq_publisher(vhost: Vhost) -> Iterator[Send]:
    from .dramatiq_app import make_broker

    broker = make_broker(vhost.url)
    actor = broker.get_actor("noop")
    try:
        actor.send(**payload(-1))  # connects and declares: not timed

        def send(i: int) -> None:
            actor.send(**payload(i))

        yield send
    finally:
        broker.close()


_DRAMATIQ = (_dramatiq_prepare, _dramatiq_spawn, _dramatiq_publisher)
