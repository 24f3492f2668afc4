"""Consume throughput: N pre-published messages, from the worker consuming to an empty queue.

For every contender and repetition: a fresh vhost, the queue declared as its worker declares
it, N persistent ~100-byte JSON messages pre-published with pipelined confirms, then the
worker is spawned. The clock starts when the broker first reports a consumer on the queue
(polled every 2 ms; spawn-to-consumer is reported separately as start-up) and stops when it
first reports the queue empty (polled every 10 ms); for a process group (``--processes N``),
when it reports N consumers: its steady state, as for every other row. The rate is the number
of messages that were still ready at the start, over that time: both ends see the same
prefetch window in flight, so neither start-up nor the window skews it. Then ``rabbitmqctl``
must show nothing left in the vhost, unacknowledged or dead-lettered, or the run counts as
failed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from .broker import BenchError, Vhost, Watcher
from .harness import QUEUE, Process, RunConfig, mserve_argv, repeated, worker_env
from .peers import installed
from .rawpika import publish_pipelined
from .report import summarize

Spawn = Callable[[RunConfig, Vhost], Process]
Prepare = Callable[[RunConfig, Vhost], None]


def drain(config: RunConfig, vhost: Vhost, spawn: Spawn) -> dict[str, Any]:
    """Spawn the worker on a vhost holding the pre-published messages; time it draining them."""
    watcher = Watcher(vhost.url)
    process = spawn(config, vhost)
    try:
        started, ready = watcher.wait_consuming([QUEUE], process.alive, consumers=process.consumers)
        ended = watcher.wait_empty(QUEUE, process.alive)
        rss = process.rss_mib()
        vhost.wait_settled()
    finally:
        watcher.close()
        process.stop()
    # A group's children start consuming up to a few tenths of a second apart, and the clock
    # waits for the last: the first may have taken most of a --quick run's messages by then.
    if ready < config.n // (2 if process.consumers == 1 else 10):
        raise BenchError(f"only {ready} of {config.n} messages left when consuming started")
    seconds = ended - started
    return {
        "rate": ready / seconds,
        "seconds": seconds,
        "messages": ready,
        "startup_s": started - process.spawned,
        "rss_mib": rss,
    }


def _json_queue(config: RunConfig, vhost: Vhost) -> None:
    vhost.declare(QUEUE)  # as mserve declares it: durable, no arguments
    publish_pipelined(vhost.url, QUEUE, config.n)


def _ceiling(config: RunConfig, vhost: Vhost) -> Process:
    argv = [sys.executable, "-m", "bench.raw_consumer", vhost.url, QUEUE, str(config.prefetch)]
    return Process(argv, worker_env(), config.log_path("ceiling"))


def _mserve(task: str, concurrency: int, fastpath: str, processes: int | None = None) -> Spawn:
    def spawn(config: RunConfig, vhost: Vhost) -> Process:
        argv = mserve_argv(config.mserve_ini(task), concurrency, fastpath)
        if processes is not None:  # a process group: a supervisor and its children
            argv += ["--processes", str(processes)]
        env, log = worker_env(AMQP_URL=vhost.url), config.log_path(f"mserve-{task}")
        return Process(argv, env, log, consumers=processes or 1)

    return spawn


def contenders(config: RunConfig) -> list[tuple[str, str, Prepare, Spawn]]:
    """(key, label, prepare, spawn) of everyone measured in this run."""
    found: list[tuple[str, str, Prepare, Spawn]] = [
        ("ceiling", "raw pika TornadoConnection (ceiling)", _json_queue, _ceiling)
    ]
    (mode, _, _), *others = config.fastpath_variants()
    for c in config.concurrency:
        label = f"mserve, plain task, --concurrency {c}"
        found.append((f"mserve_plain_c{c}", label, _json_queue, _mserve("noop", c, mode)))
    found.append(
        ("mserve_async", "mserve, async def task", _json_queue, _mserve("noop_async", 1, mode))
    )
    for n in (1, 2):  # --processes 1 is the plain c1 worker again, measured beside 2
        label = f"mserve, plain task, --processes {n}"
        found.append((f"mserve_processes{n}", label, _json_queue, _mserve("noop", 1, mode, n)))
    c = config.concurrency[0]
    for mode, key, label in others:  # the same worker with another fast path mode
        spawn = _mserve("noop", c, mode)
        found.append((f"mserve_plain_c{c}{key}", f"mserve, plain task{label}", _json_queue, spawn))
    for peer in installed():
        found.append((peer.key, peer.label, peer.prepare, peer.spawn))
    return found


def run(config: RunConfig, say: Callable[[str], None]) -> dict[str, Any]:
    say(f"consume: {config.n} messages, prefetch {config.prefetch}")
    found = contenders(config)

    def measure(key: str, prepare: Prepare, spawn: Spawn) -> Callable[[], dict[str, Any]]:
        def once() -> dict[str, Any]:
            with config.broker.vhost(f"consume-{key}") as vhost:
                prepare(config, vhost)
                config.broker.wait_quiet()  # the messages just written are on disk
                return drain(config, vhost, spawn)

        return once

    runs = repeated(config, [(k, measure(k, p, s)) for k, _, p, s in found], say)
    results = {}
    for key, label, _, _ in found:
        results[key] = {
            "label": label,
            "unit": "msg/s",
            "rate": summarize(runs[key], "rate"),
            "startup_s": summarize(runs[key], "startup_s"),
            "rss_mib": summarize(runs[key], "rss_mib"),
            "runs": runs[key],
        }
    return results
