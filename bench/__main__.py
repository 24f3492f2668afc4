"""``python -m bench [--quick] [--json PATH] [--only SECTION,...] [--fastpath MODES]``: run it.

Prints progress to stderr, the results table to stdout, and writes the results as JSON
(default ``build/bench/results.json``) with a Markdown copy of the table beside it. Exits 1 if
any measurement failed (its error is in the JSON), 2 if the broker cannot be used; a missed
target is reported, not an error.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import compile_time, consume, latency, middleware, publish
from .broker import DEFAULT_URL, BenchError, Broker
from .harness import ROOT, RunConfig, compile_bytecode
from .peers import versions as peer_versions
from .rawpika import json_message
from .report import ratios, targets
from .table import markdown, render

SECTIONS: dict[str, Callable[[RunConfig, Callable[[str], None]], dict[str, Any]]] = {
    "consume": consume.run,
    "publish": publish.run,
    "latency": latency.run,
    "compile": compile_time.run,
    "middleware": middleware.run,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Measure mqwire against raw pika (the ceiling) and its peers, in one run.",
    )
    parser.add_argument("--quick", action="store_true", help="small N, one run each (a smoke run)")
    parser.add_argument("--json", type=Path, default=ROOT / "build" / "bench" / "results.json",
                        help="where to write the results (default: %(default)s)")  # fmt: skip
    names = ",".join(SECTIONS)
    parser.add_argument("--only", default=names, help=f"sections to run (default: {names})")
    parser.add_argument("--repeat", type=int, help="runs per measurement (default 3; 1 --quick)")
    parser.add_argument("--prefetch", type=int, default=100, help="every consumer's prefetch")
    modes = "auto,off"
    parser.add_argument("--fastpath", default=modes,
                        help=f"MQWIRE_FASTPATH modes to measure mqwire in (default: {modes}; the "
                        "first is compared with the peers)")  # fmt: skip
    parser.add_argument("--url", default=DEFAULT_URL, help="the broker (default: %(default)s)")
    hidden = argparse.SUPPRESS
    parser.add_argument("--n", type=int, help=hidden)  # messages (default 20000; 2000 --quick)
    parser.add_argument("--latency-n", type=int, help=hidden)  # latency messages (2000; 100)
    parser.add_argument("--concurrency", default="1,4", help=hidden)  # mserve plain settings
    return parser


def machine(broker: Broker) -> dict[str, Any]:
    cpu = "?"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as info:
        memory = f"{int(info.readline().split()[1]) / 1024 / 1024:.1f} GiB RAM"
    versions = {"python": platform.python_version()}
    for name in ("mqwire", "pika", "tornado"):
        versions[name] = importlib.metadata.version(name)
    versions["rabbitmq"] = f"{broker.version()} (Erlang/OTP {broker.erlang_version()})"
    versions.update(peer_versions())
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": memory,
        "system": f"{platform.system()} {platform.release()}",
        "versions": versions,
        "shared": "The broker, the workers and the benchmark share this machine: "
        "compare ratios, not absolute numbers.",
    }


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; known: {', '.join(SECTIONS)}")
    fastpaths = [m.strip() for m in args.fastpath.split(",") if m.strip()]
    if (
        not fastpaths
        or set(fastpaths) - {"auto", "on", "off"}
        or len(set(fastpaths)) < len(fastpaths)
    ):
        parser.error("--fastpath: one or more of auto, on, off, comma-separated, each once")
    repeat = args.repeat or (1 if args.quick else 3)
    if repeat < 3 and not args.quick:
        parser.error("at least 3 runs per measurement (fewer only with --quick)")

    began = time.monotonic()

    def say(text: str) -> None:
        print(f"[{time.monotonic() - began:6.1f} s] {text}", file=sys.stderr, flush=True)

    try:
        broker = Broker(args.url, delete_later=args.quick)
        info = machine(broker)
        compile_bytecode()
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="mqwire-bench-") as work:
        config = RunConfig(
            broker, Path(work), n=args.n or (2_000 if args.quick else 20_000), repeat=repeat,
            prefetch=args.prefetch, latency_n=args.latency_n or (100 if args.quick else 2_000),
            concurrency=[int(c) for c in args.concurrency.split(",")], quick=args.quick,
            fastpaths=fastpaths,
        )  # fmt: skip
        results: dict[str, Any] = {
            "meta": {
                "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
                "command": " ".join(["python -m bench", *(argv or sys.argv[1:])]),
                "quick": args.quick, "n": config.n, "repeat": repeat, "fastpaths": fastpaths,
                "prefetch": config.prefetch, "latency_n": config.latency_n,
                "rate": config.rate, "message_bytes": len(json_message(10_000)[0]),
                "machine": info,
                "load_before": os.getloadavg(),
            }
        }  # fmt: skip
        try:
            for name in sections:
                results[name] = SECTIONS[name](config, say)
        finally:
            broker.close()
    results["meta"]["load_after"] = os.getloadavg()
    results["ratios"] = ratios(results)
    results["targets"] = targets(results, results["ratios"])
    print(render(results))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    args.json.with_suffix(".md").write_text(markdown(results))
    say(f"wrote {args.json} and {args.json.with_suffix('.md')}")
    failed = _failures({s: results[s] for s in sections})
    for failure in failed:
        say(f"failed: {failure}")
    return 1 if failed else 0


def _failures(results: Any, where: str = "") -> list[str]:
    """Every failed run (a dict with an ``error``) anywhere in the results, with its place."""
    if isinstance(results, dict):
        if isinstance(results.get("error"), str):
            return [f"{where}: {results['error'].splitlines()[0]}"]
        return [f for k, v in results.items() for f in _failures(v, f"{where} {k}".strip())]
    if isinstance(results, list):
        return [f for item in results for f in _failures(item, where)]
    return []


if __name__ == "__main__":
    sys.exit(main())
