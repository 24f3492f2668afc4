"""Compile time on generated topologies, and ``mserve`` start-up time and memory.

``mq-compile`` runs on generated topologies of 10, 100 and 1,000 queues (each with a task, a
topic route and, on every other queue, a retry policy): once as a command (a fresh
interpreter, as CI and developers run it) and once in-process (``compiler.cli.main``, warm),
which is the part that must grow linearly; the per-queue time is reported for both.

``mserve`` serves the ticketing example (4 queues, 2 connections) in a fresh vhost: start-up is
from process spawn until the broker shows a consumer on every queue, then its resident memory
(``VmRSS`` from ``/proc/<pid>/status``) is read, and again ``SETTLE`` seconds later, once its
start-up checks have run. The raw pika consumer (the consume ceiling)
is measured the same way on one queue, as the yardstick for both.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from .broker import BenchError, Watcher
from .harness import ROOT, Process, RunConfig, noop_app_importable, repeated, worker_env
from .report import summarize

SIZES = (10, 100, 1000)
EXAMPLE = ROOT / "examples" / "ticketing"
EXAMPLE_QUEUES = ["cart", "lots.election", "lots.mail", "lots.audit"]
RAW_QUEUE = "bench.startup"
#: Seconds after consuming began when memory is read again: mserve's start-up binding check
#: (a management API call in a thread) has run by then.
SETTLE = 2.0


def topology(queues: int) -> str:
    lines = [
        "version: 1",
        "connections:",
        '  main: {url: "${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2F}", heartbeat: 30}',
        "publisher_consumers:",
        "  work:",
        "    prefix: bench.work.mq",
        "    connection: main",
        "    exchange: bench.work",
        "    routes:",
        *(f'      "q{i:04d}.#": q{i:04d}' for i in range(queues)),
        "queues:",
        *(
            f"  q{i:04d}: {{consumer: work, prefetch: 10"
            + (", retry: {delays: [1, 5]}}" if i % 2 else "}")
            for i in range(queues)
        ),
        "tasks:",
        *(f'  t{i:04d}: {{task: "noop_app:noop", queue: q{i:04d}}}' for i in range(queues)),
    ]
    return "\n".join(lines) + "\n"


def _in_process(source: Path, out: Path) -> float:
    from mqwire.compiler.cli import main as mq_compile

    noop_app_importable()  # mq-compile imports the task paths it compiles
    with (
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()) as err,
    ):
        started = time.perf_counter()
        code = mq_compile([str(source), "-o", str(out)])
        seconds = time.perf_counter() - started
    if code != 0:
        raise BenchError(f"mq-compile failed: {err.getvalue()[:500]}")
    return seconds


def _command(source: Path, out: Path) -> float:
    argv = [sys.executable, "-m", "mqwire.compiler.cli", str(source), "-o", str(out)]
    started = time.perf_counter()
    done = subprocess.run(argv, env=worker_env(), capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode:
        raise BenchError(f"mq-compile failed: {done.stderr[:500]}")
    return seconds


def _compile(config: RunConfig, queues: int) -> Callable[[], dict[str, Any]]:
    source = config.work / f"compile-{queues}" / "topology.yaml"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text(topology(queues))

    def once() -> dict[str, Any]:
        command = _command(source, source.parent / "command")
        warm = _in_process(source, source.parent / "in-process")
        return {
            "command_s": command,
            "in_process_s": warm,
            "command_per_queue_ms": command / queues * 1000,
            "in_process_per_queue_ms": warm / queues * 1000,
        }

    return once


def _startup(config: RunConfig, fastpath: str) -> dict[str, Any]:
    with config.broker.vhost("startup") as vhost:
        watcher = Watcher(vhost.url)
        argv = [sys.executable, "-m", "mqwire.runtime.worker.mserve", str(EXAMPLE / "compiled.ini"),
                "--fastpath", fastpath]  # fmt: skip
        env = worker_env(AMQP_URL=vhost.url)
        env["PYTHONPATH"] = f"{EXAMPLE}:{env['PYTHONPATH']}"
        process = Process([*argv, "--log-level", "WARNING"], env, config.log_path("startup"))
        try:
            consuming, _ = watcher.wait_consuming(EXAMPLE_QUEUES, process.alive)
            rss = process.rss_mib()
            time.sleep(SETTLE)  # what the worker holds once its start-up checks ran
            process.alive()
            settled = process.rss_mib()
        finally:
            watcher.close()
            code = process.stop(timeout=30)
        if code != 0:
            raise BenchError(f"mserve exited with {code}:\n{process.tail()}")
        return {
            "startup_s": consuming - process.spawned,
            "rss_mib": rss,
            "rss_settled_mib": settled,
        }


def _raw_startup(config: RunConfig) -> dict[str, Any]:
    with config.broker.vhost("startup-raw") as vhost:
        vhost.declare(RAW_QUEUE)
        watcher = Watcher(vhost.url)
        argv = [sys.executable, "-m", "bench.raw_consumer", vhost.url, RAW_QUEUE, "100"]
        process = Process(argv, worker_env(), config.log_path("startup-raw"))
        try:
            consuming, _ = watcher.wait_consuming([RAW_QUEUE], process.alive)
            rss = process.rss_mib()
        finally:
            watcher.close()
            process.stop(timeout=30)
        return {"startup_s": consuming - process.spawned, "rss_mib": rss}


def run(config: RunConfig, say: Callable[[str], None]) -> dict[str, Any]:
    say("compile: mq-compile on generated topologies, mserve start-up on the example")
    _in_process(*_warm_up(config))
    contenders = [(f"{q}_queues", _compile(config, q)) for q in SIZES]
    variants = config.fastpath_variants()
    for mode, key, _ in variants:  # the first mode's keys have no suffix
        contenders.append((f"mserve_startup{key}", partial(_startup, config, mode)))
    contenders.append(("raw_startup", lambda: _raw_startup(config)))
    runs = repeated(config, contenders, say)
    fields = ("command_s", "in_process_s", "command_per_queue_ms", "in_process_per_queue_ms")
    results: dict[str, Any] = {
        "sizes": {str(q): {f: summarize(runs[f"{q}_queues"], f) for f in fields} for q in SIZES},
        **{
            f"mserve_{field}{key}": summarize(runs[f"mserve_startup{key}"], field)
            for _, key, _ in variants
            for field in ("startup_s", "rss_mib", "rss_settled_mib")
        },
        "raw_startup_s": summarize(runs["raw_startup"], "startup_s"),
        "raw_rss_mib": summarize(runs["raw_startup"], "rss_mib"),
        "runs": runs,
    }
    return results


def _warm_up(config: RunConfig) -> tuple[Path, Path]:
    """A first in-process compile, not timed: imports, schema and templates load once."""
    source = config.work / "compile-warm-up" / "topology.yaml"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text(topology(3))
    return source, source.parent
