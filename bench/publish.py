"""Publish throughput: confirmed publishing of N ~100-byte persistent JSON messages.

Every contender JSON-encodes a dict per message, publishes to a durable queue in a fresh vhost
of its own, and connects (and declares) before the clock starts, through one untimed warm-up
message. Afterwards each queue must hold every message sent.

One by one, each call returning once its message is confirmed, all at once: mqwire
``publisher.publish()``, ``await publisher.apublish()`` (each call one ``run_until_complete``
on one event loop, as a coroutine awaiting it one by one would), raw pika
``BlockingConnection`` with ``confirm_delivery()``, Celery ``apply_async``
(``confirm_publish``) and Dramatiq ``send`` (``confirm_delivery``) take turns in blocks of
``BLOCK`` messages, the first of each turn rotating, each timed over its own blocks. Every
confirm waits for the broker's disk, whose pace drifts over seconds: run one after the other,
the same publisher moved by 20 % between runs, more than the difference being measured.

Pipelined, one after the other (each a burst that keeps the broker busy): mqwire ``with
publisher.batch():``, ``async with publisher.abatch():`` and raw pika ``SelectConnection``
with up to 1000 unconfirmed in flight (the ceiling).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pika  # type: ignore[import-untyped]

from .broker import BenchError, Vhost
from .harness import BENCH, QUEUE, RunConfig, repeated
from .peers import installed
from .rawpika import Send, each_publisher, payload, publish_pipelined
from .report import summarize

#: Messages each one-by-one publisher sends in its turn.
BLOCK = 50
#: Connects a one-by-one publisher to the vhost (its queue declared).
Publisher = Callable[[RunConfig, Vhost], AbstractContextManager[Send]]
#: Publishes n messages pipelined on the vhost (its queue declared); the seconds it took.
Burst = Callable[[RunConfig, Vhost, int], float]


@contextlib.contextmanager
def _mqwire_publisher(config: RunConfig, vhost: Vhost, fastpath: str) -> Iterator[Any]:
    if str(BENCH) not in sys.path:
        sys.path.append(str(BENCH))  # the compiled registry imports noop_app
    from mqwire.runtime import load
    from mqwire.runtime._fastpath.switch import ENV, decide
    from mqwire.runtime.publisher import AmqpPublisher

    registry = load(config.mserve_ini("noop"), environ={"AMQP_URL": vhost.url})
    try:
        wired = registry.publisher("bench")  # the same one, but for the fast path mode
        publisher = AmqpPublisher(
            wired.settings, wired.validators, known_queues=sorted(wired.known_queues),
            fastpath=decide({ENV: fastpath}),
        )  # fmt: skip
        try:
            publisher.publish(body=payload(-1), routing_key=QUEUE)  # connects: not timed
            yield publisher
        finally:
            publisher.close()
    finally:
        registry.close()


def _mqwire_each(fastpath: str) -> Publisher:
    @contextlib.contextmanager
    def each(config: RunConfig, vhost: Vhost) -> Iterator[Send]:
        with _mqwire_publisher(config, vhost, fastpath) as publisher:

            def send(i: int) -> None:
                publisher.publish(body=payload(i), routing_key=QUEUE)

            yield send

    return each


def _mqwire_apublish(fastpath: str) -> Publisher:
    @contextlib.contextmanager
    def each(config: RunConfig, vhost: Vhost) -> Iterator[Send]:
        with _mqwire_publisher(config, vhost, fastpath) as publisher:
            loop = asyncio.new_event_loop()  # one loop for the whole run, as a worker has

            def send(i: int) -> None:
                loop.run_until_complete(publisher.apublish(body=payload(i), routing_key=QUEUE))

            try:
                yield send
            finally:
                loop.close()

    return each


def _mqwire_abatch(fastpath: str) -> Burst:
    def batch(config: RunConfig, vhost: Vhost, n: int) -> float:
        async def publish_all() -> None:
            async with publisher.abatch():
                for i in range(n):
                    await publisher.apublish(body=payload(i), routing_key=QUEUE)

        with _mqwire_publisher(config, vhost, fastpath) as publisher:
            started = time.perf_counter()
            asyncio.run(publish_all())
            return time.perf_counter() - started

    return batch


def _mqwire_batch(fastpath: str) -> Burst:
    def batch(config: RunConfig, vhost: Vhost, n: int) -> float:
        with _mqwire_publisher(config, vhost, fastpath) as publisher:
            started = time.perf_counter()
            with publisher.batch():
                for i in range(n):
                    publisher.publish(body=payload(i), routing_key=QUEUE)
            return time.perf_counter() - started

    return batch


def _raw_pipelined(config: RunConfig, vhost: Vhost, n: int) -> float:
    return publish_pipelined(vhost.url, QUEUE, n)


def one_by_one(config: RunConfig) -> list[tuple[str, str, Publisher]]:
    found: list[tuple[str, str, Publisher]] = [
        (f"mqwire_publish{key}", f"mqwire publish(), one by one, confirmed{label}",
         _mqwire_each(mode))
        for mode, key, label in config.fastpath_variants()
    ]  # fmt: skip
    found += [
        (f"mqwire_apublish{key}", f"mqwire await apublish(), one by one, confirmed{label}",
         _mqwire_apublish(mode))
        for mode, key, label in config.fastpath_variants()
    ]  # fmt: skip
    found.append(("raw_each", "raw pika BlockingConnection, per-message confirms",
                  lambda config, vhost: each_publisher(vhost.url, QUEUE)))  # fmt: skip
    for peer in installed():
        label = f"{peer.label.split(' (')[0]}, one by one, confirmed"
        found.append((peer.key, label, lambda config, vhost, p=peer: p.publisher(vhost)))
    return found


def bursts(config: RunConfig) -> list[tuple[str, str, Burst]]:
    found: list[tuple[str, str, Burst]] = [
        (f"mqwire_batch{key}", f"mqwire with publisher.batch(){label}", _mqwire_batch(mode))
        for mode, key, label in config.fastpath_variants()
    ]
    found += [
        (f"mqwire_abatch{key}", f"mqwire async with publisher.abatch(){label}",
         _mqwire_abatch(mode))
        for mode, key, label in config.fastpath_variants()
    ]  # fmt: skip
    found.append(("raw_pipelined", "raw pika SelectConnection, pipelined confirms", _raw_pipelined))
    return found


def _queued(vhost: Vhost) -> int:
    with pika.BlockingConnection(pika.URLParameters(vhost.url)) as connection:
        return int(connection.channel().queue_declare(QUEUE, passive=True).method.message_count)


def _declared(config: RunConfig, stack: contextlib.ExitStack, key: str) -> Vhost:
    vhost = stack.enter_context(config.broker.vhost(f"publish-{key}"))
    if key != "dramatiq":  # Dramatiq declares its queue with arguments of its own
        vhost.declare(QUEUE)
    return vhost


def _check(config: RunConfig, vhost: Vhost) -> None:
    queued = _queued(vhost)
    if queued < config.n:
        raise BenchError(f"{queued} of {config.n} messages reached the queue")


def interleaved(config: RunConfig, publishers: list[tuple[str, Publisher]]) -> dict[str, Any]:
    """All one-by-one publishers, taking turns in blocks; each one's rate over its own blocks."""
    seconds = {key: 0.0 for key, _ in publishers}
    with contextlib.ExitStack() as stack:
        vhosts, sends = {}, []
        for key, publisher in publishers:
            vhosts[key] = _declared(config, stack, key)
            sends.append((key, stack.enter_context(publisher(config, vhosts[key]))))
        for turn, first in enumerate(range(0, config.n, BLOCK)):
            shift = turn % len(sends)
            for key, send in [*sends[shift:], *sends[:shift]]:
                started = time.perf_counter()
                for i in range(first, min(first + BLOCK, config.n)):
                    send(i)
                seconds[key] += time.perf_counter() - started
        for key in vhosts:
            _check(config, vhosts[key])
    return {key: {"rate": config.n / s, "seconds": s} for key, s in seconds.items()}


def run(config: RunConfig, say: Callable[[str], None]) -> dict[str, Any]:
    say(f"publish: {config.n} messages; one by one interleaved in blocks of {BLOCK}")
    each, burst_contenders = one_by_one(config), bursts(config)

    def burst(key: str, publish: Burst) -> Callable[[], dict[str, Any]]:
        def once() -> dict[str, Any]:
            with contextlib.ExitStack() as stack:
                vhost = _declared(config, stack, key)
                seconds = publish(config, vhost, config.n)
                _check(config, vhost)
                return {"rate": config.n / seconds, "seconds": seconds}

        return once

    publishers = [(key, publisher) for key, _, publisher in each]
    contenders = [("one by one", lambda: interleaved(config, publishers))]
    contenders += [(key, burst(key, publish)) for key, _, publish in burst_contenders]
    runs = repeated(config, contenders, say)
    for key, _, _ in each:
        runs[key] = [r if "error" in r else r[key] for r in runs["one by one"]]
    labels = {key: label for key, label, _ in [*each, *burst_contenders]}
    order = ["mqwire_publish", "mqwire_apublish", "mqwire_batch", "mqwire_abatch"]
    order += ["raw_each", "raw_pipelined"]
    order += [key for key in labels if key not in order]  # the peers
    return {
        key: {
            "label": labels[key],
            "unit": "msg/s",
            "rate": summarize(runs[key], "rate"),
            "runs": runs[key],
        }
        for key in order
    }
