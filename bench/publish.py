"""Publish throughput: confirmed publishing of N ~100-byte persistent JSON messages.

Each contender publishes N messages to a durable queue in a fresh vhost and is timed from its
first to its last confirm; connecting (and the peers' queue declarations) happen before the
clock starts, through one untimed warm-up message. Every contender JSON-encodes a dict per
message. Afterwards the queue must hold every message sent.

- mqwire ``publisher.publish()`` one by one: each call returns once confirmed;
- mqwire ``with publisher.batch():``: sent with pipelined confirms when the block ends;
- raw pika ``BlockingConnection`` with ``confirm_delivery()``: waits for each confirm;
- raw pika ``SelectConnection`` with up to 1000 unconfirmed in flight (the ceiling);
- Celery ``apply_async`` (``confirm_publish``) and Dramatiq ``send`` (``confirm_delivery``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import pika  # type: ignore[import-untyped]

from .broker import BenchError, Vhost
from .harness import BENCH, QUEUE, RunConfig, repeated
from .peers import installed
from .rawpika import payload, publish_each, publish_pipelined
from .report import summarize

#: Publishes n messages on the vhost (its queue declared); the seconds it took.
Publish = Callable[[RunConfig, Vhost, int], float]


def _mqwire(batch: bool) -> Publish:
    def publish(config: RunConfig, vhost: Vhost, n: int) -> float:
        if str(BENCH) not in sys.path:
            sys.path.append(str(BENCH))  # the compiled registry imports noop_app
        from mqwire.runtime import load

        registry = load(config.mserve_ini("noop"), environ={"AMQP_URL": vhost.url})
        try:
            publisher = registry.publisher("bench")
            publisher.publish(body=payload(-1), routing_key=QUEUE)  # connects: not timed
            started = time.perf_counter()
            if batch:
                with publisher.batch():
                    for i in range(n):
                        publisher.publish(body=payload(i), routing_key=QUEUE)
            else:
                for i in range(n):
                    publisher.publish(body=payload(i), routing_key=QUEUE)
            return time.perf_counter() - started
        finally:
            registry.close()

    return publish


def _raw_each(config: RunConfig, vhost: Vhost, n: int) -> float:
    return publish_each(vhost.url, QUEUE, n)


def _raw_pipelined(config: RunConfig, vhost: Vhost, n: int) -> float:
    return publish_pipelined(vhost.url, QUEUE, n)


def contenders() -> list[tuple[str, str, Publish]]:
    found: list[tuple[str, str, Publish]] = [
        ("mqwire_publish", "mqwire publish(), one by one, confirmed", _mqwire(batch=False)),
        ("mqwire_batch", "mqwire with publisher.batch()", _mqwire(batch=True)),
        ("raw_each", "raw pika BlockingConnection, per-message confirms", _raw_each),
        ("raw_pipelined", "raw pika SelectConnection, pipelined confirms", _raw_pipelined),
    ]
    for peer in installed():
        label = f"{peer.label.split(' (')[0]}, one by one, confirmed"
        found.append((peer.key, label, lambda c, v, n, p=peer: p.publish(v, n)))
    return found


def _queued(vhost: Vhost) -> int:
    with pika.BlockingConnection(pika.URLParameters(vhost.url)) as connection:
        return int(connection.channel().queue_declare(QUEUE, passive=True).method.message_count)


def run(config: RunConfig, say: Callable[[str], None]) -> dict[str, Any]:
    say(f"publish: {config.n} messages")
    found = contenders()

    def measure(key: str, publish: Publish) -> Callable[[], dict[str, Any]]:
        def once() -> dict[str, Any]:
            with config.broker.vhost(f"publish-{key}") as vhost:
                if key != "dramatiq":  # Dramatiq declares its queue with arguments of its own
                    vhost.declare(QUEUE)
                seconds = publish(config, vhost, config.n)
                queued = _queued(vhost)
                if queued < config.n:
                    raise BenchError(f"{queued} of {config.n} messages reached the queue")
                return {"rate": config.n / seconds, "seconds": seconds}

        return once

    runs = repeated(config, [(key, measure(key, publish)) for key, _, publish in found], say)
    return {
        key: {
            "label": label,
            "unit": "msg/s",
            "rate": summarize(runs[key], "rate"),
            "runs": runs[key],
        }
        for key, label, _ in found
    }
