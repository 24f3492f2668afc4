"""Latency: publish to task start at a steady rate (200 msg/s), mserve against the ceiling.

The worker starts and consumes an empty queue in a fresh vhost; then the benchmark publishes
M messages on a fixed schedule (message i at ``t0 + i / rate``, with per-message confirms,
as an application would), each carrying ``sent = time.time()`` taken just before it is
published. The task (``noop_app.latency``, or the ceiling's inline one) writes
``time.time() - sent`` to a file as it starts. The first 10 % of messages (at most 20) are a
warm-up and not counted; p50, p99 and the maximum of the others are reported, in ms.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pika  # type: ignore[import-untyped]

from .broker import BenchError, Vhost, Watcher
from .harness import QUEUE, Process, RunConfig, mserve_argv, repeated, worker_env
from .rawpika import json_message
from .report import summarize

#: Starts a worker whose task records its latency into the given file.
Spawn = Callable[[RunConfig, Vhost, Path], Process]


def _ceiling(config: RunConfig, vhost: Vhost, record: Path) -> Process:
    argv = [sys.executable, "-m", "bench.raw_consumer", vhost.url, QUEUE, str(config.prefetch)]
    env = worker_env(BENCH_LATENCY_FILE=str(record))
    return Process(argv, env, config.log_path("latency-ceiling"))


def _mserve(task: str) -> Spawn:
    def spawn(config: RunConfig, vhost: Vhost, record: Path) -> Process:
        argv = mserve_argv(config.mserve_ini(task), 1)
        env = worker_env(AMQP_URL=vhost.url, BENCH_LATENCY_FILE=str(record))
        return Process(argv, env, config.log_path(f"latency-{task}"))

    return spawn


CONTENDERS: list[tuple[str, str, Spawn]] = [
    ("ceiling", "raw pika TornadoConnection (ceiling)", _ceiling),
    ("mserve_plain", "mserve, plain task, --concurrency 1", _mserve("latency")),
    ("mserve_async", "mserve, async def task", _mserve("latency_async")),
]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _publish_steadily(url: str, count: int, rate: float) -> None:
    with pika.BlockingConnection(pika.URLParameters(url)) as connection:
        channel = connection.channel()
        channel.confirm_delivery()
        start = time.perf_counter()
        for i in range(count):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            body, properties = json_message(i)  # stamps "sent" now
            channel.basic_publish("", QUEUE, body, properties, mandatory=True)


def _lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def measure(config: RunConfig, vhost: Vhost, spawn: Spawn, label: str) -> dict[str, Any]:
    record = config.work / f"latency-{label}-{time.monotonic_ns()}.txt"
    vhost.declare(QUEUE)
    watcher = Watcher(vhost.url)
    process = spawn(config, vhost, record)
    try:
        watcher.wait_consuming([QUEUE], process.alive)
        _publish_steadily(vhost.url, config.latency_n, config.rate)
        deadline = time.monotonic() + 60
        while len(_lines(record)) < config.latency_n:
            process.alive()
            if time.monotonic() > deadline:
                raise BenchError(f"only {len(_lines(record))} of {config.latency_n} recorded")
            time.sleep(0.05)
        vhost.wait_settled()
    finally:
        watcher.close()
        process.stop()
    values = [float(v) * 1000 for v in _lines(record)]
    counted = values[min(20, len(values) // 10) :]
    return {
        "p50_ms": statistics.median(counted),
        "p99_ms": percentile(counted, 0.99),
        "max_ms": max(counted),
        "messages": len(counted),
    }


def run(config: RunConfig, say: Callable[[str], None]) -> dict[str, Any]:
    say(f"latency: {config.latency_n} messages at {config.rate:g} msg/s")

    def once(key: str, spawn: Spawn) -> Callable[[], dict[str, Any]]:
        def go() -> dict[str, Any]:
            with config.broker.vhost(f"latency-{key}") as vhost:
                return measure(config, vhost, spawn, key)

        return go

    runs = repeated(config, [(key, once(key, spawn)) for key, _, spawn in CONTENDERS], say)
    return {
        key: {
            "label": label,
            "unit": "ms",
            **{f: summarize(runs[key], f) for f in ("p50_ms", "p99_ms", "max_ms")},
            "runs": runs[key],
        }
        for key, label, _ in CONTENDERS
    }
