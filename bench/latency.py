"""Latency: publish to task start at a steady rate (200 msg/s), mserve against the ceiling.

Each round starts every contender (the ceiling, mserve with a plain and with an ``async def``
task), each consuming an empty queue in a vhost of its own; then the benchmark publishes M
messages to each on a fixed schedule, in turn (message i at ``t0 + i / (rate * k)`` for k
contenders, so each sees ``rate``), with per-message confirms, as an application would. Each
message carries ``sent = time.time()`` taken just before it is published. The task
(``noop_app.latency``, or the ceiling's inline one) writes ``time.time() - sent`` to a file as
it starts. The first 10 % of messages (at most 20) are a warm-up and not counted; p50, p99 and
the maximum of the others are reported, in ms.
"""

from __future__ import annotations

import contextlib
import statistics
import sys
import time
from collections.abc import Callable, Sequence
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


def _publish_steadily(urls: Sequence[str], count: int, rate: float) -> None:
    """``count`` messages to each vhost's queue, each at ``rate`` msg/s, taking turns."""
    with contextlib.ExitStack() as stack:
        channels = []
        for url in urls:
            connection = stack.enter_context(pika.BlockingConnection(pika.URLParameters(url)))
            channel = connection.channel()
            channel.confirm_delivery()
            channels.append(channel)
        interval = 1 / (rate * len(channels))
        start = time.perf_counter()
        for i in range(count * len(channels)):
            delay = start + i * interval - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            body, properties = json_message(i)  # stamps "sent" now
            channels[i % len(channels)].basic_publish("", QUEUE, body, properties, mandatory=True)


def _lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def measure(config: RunConfig, contenders: Sequence[tuple[str, Spawn]]) -> dict[str, Any]:
    """One round: every contender at once, each consuming its own vhost's queue.

    Messages go to the contenders in turn, so all of them see the broker, the disk and the
    machine in the same state; run one after the other, the ceiling itself moved by 40 %
    between rounds, more than the difference being measured. At 200 msg/s each, a message
    is handled (well under 1 ms) before the next contender's arrives.
    """
    stamp = time.monotonic_ns()
    with contextlib.ExitStack() as stack:
        vhosts, records, processes = {}, {}, {}
        for key, spawn in contenders:
            vhosts[key] = vhost = stack.enter_context(config.broker.vhost(f"latency-{key}"))
            vhost.declare(QUEUE)
            records[key] = config.work / f"latency-{key}-{stamp}.txt"
            processes[key] = process = spawn(config, vhost, records[key])
            stack.callback(process.stop)  # before its vhost is deleted
        for key, _ in contenders:
            watcher = Watcher(vhosts[key].url)
            stack.callback(watcher.close)
            watcher.wait_consuming([QUEUE], processes[key].alive)
        _publish_steadily([vhosts[key].url for key, _ in contenders], config.latency_n, config.rate)
        deadline = time.monotonic() + 60
        for key, _ in contenders:
            while (got := len(_lines(records[key]))) < config.latency_n:
                processes[key].alive()
                if time.monotonic() > deadline:
                    raise BenchError(f"{key}: only {got} of {config.latency_n} recorded")
                time.sleep(0.05)
            vhosts[key].wait_settled()
    return {key: _summary(_lines(records[key])) for key, _ in contenders}


def _summary(lines: list[str]) -> dict[str, Any]:
    values = [float(v) * 1000 for v in lines]
    counted = values[min(20, len(values) // 10) :]
    return {
        "p50_ms": statistics.median(counted),
        "p99_ms": percentile(counted, 0.99),
        "max_ms": max(counted),
        "messages": len(counted),
    }


def run(config: RunConfig, say: Callable[[str], None]) -> dict[str, Any]:
    say(f"latency: {config.latency_n} messages at {config.rate:g} msg/s to each, interleaved")
    contenders = [(key, spawn) for key, _, spawn in CONTENDERS]
    rounds = repeated(config, [("all contenders", lambda: measure(config, contenders))], say)
    runs = {
        key: [r if "error" in r else r[key] for r in rounds["all contenders"]]
        for key, _ in contenders
    }
    return {
        key: {
            "label": label,
            "unit": "ms",
            **{f: summarize(runs[key], f) for f in ("p50_ms", "p99_ms", "max_ms")},
            "runs": runs[key],
        }
        for key, label, _ in CONTENDERS
    }
