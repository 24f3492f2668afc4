"""``mq-compile explain``: where a routing key goes, or (``--lint``) what looks wrong."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from mqwire.topology._yaml import parse_yaml
from mqwire.topology.routing import routing_key_problem

from .cli import EXIT_INVALID, EXIT_OK
from .explain import (
    DEFAULT_CONSUMER_TIMEOUT,
    Finding,
    explain_key,
    lint,
    render_explanation,
)
from .export_cli import SourceTopology, read_topology

#: Exit codes: the key reaches a queue / the lint is clean; nothing reached / findings.
EXIT_FINDINGS = 1

EPILOG = """\
examples:
  mq-compile explain topology.yaml lots.42.mail              every publisher_consumer
  mq-compile explain topology.yaml lots.42.mail --publisher lots
  mq-compile explain topology.yaml --lint                    unreachable queues, shadowed or
                                                             duplicate patterns, queues
                                                             without tasks, long timeouts
  mq-compile explain topology.yaml --lint --consumer-timeout 3600

exit status: 0 the key reaches a queue / the lint is clean, 1 it reaches none / findings,
2 invalid topology, routing key or usage.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mq-compile explain",
        description="Show which queues and tasks a routing key reaches, through which "
        "patterns; or lint the whole topology.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("topology", help="the topology YAML file")
    parser.add_argument("routing_key", nargs="?", help="the routing key to follow")
    parser.add_argument("--publisher", metavar="NAME", help="only this publisher_consumer")
    parser.add_argument("--lint", action="store_true", help="lint the whole topology")
    parser.add_argument(
        "--consumer-timeout",
        type=float,
        default=DEFAULT_CONSUMER_TIMEOUT,
        metavar="SECONDS",
        help="the broker's consumer_timeout, for the task timeout check (default: %(default)g)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.lint == (args.routing_key is not None):
        parser.error("give either a ROUTING_KEY or --lint")
    return run(args, stdout=sys.stdout, stderr=sys.stderr)


def run(args: argparse.Namespace, *, stdout: TextIO, stderr: TextIO) -> int:
    if not args.lint:
        problem = routing_key_problem(args.routing_key)
        if problem is not None:
            print(f"error: {problem}", file=stderr)
            return EXIT_INVALID
    loaded = read_topology(args.topology, stderr)
    if loaded is None:
        return EXIT_INVALID
    if args.lint:
        findings = lint(loaded.topology, args.consumer_timeout)
        for finding in findings:
            print(format_finding(loaded, finding), file=stdout)
        count = len(findings)
        print(f"{count} finding{'s' if count != 1 else ''}", file=stderr)
        return EXIT_FINDINGS if findings else EXIT_OK
    if args.publisher is not None and args.publisher not in loaded.topology.publisher_consumers:
        known = ", ".join(sorted(loaded.topology.publisher_consumers))
        print(f"error: no publisher_consumer {args.publisher!r}; known: {known}", file=stderr)
        return EXIT_INVALID
    reaches = explain_key(loaded.topology, args.routing_key, args.publisher)
    stdout.write(render_explanation(args.routing_key, reaches))
    return EXIT_OK if any(r.reaches for r in reaches) else EXIT_FINDINGS


def format_finding(loaded: SourceTopology, finding: Finding) -> str:
    """``file:line:col: code: message`` when the file holds the path, else the YAML path."""
    span = parse_yaml(loaded.text, loaded.source).spans.get(finding.path)
    if span is not None:
        where = str(span.key or span.value)
    else:  # e.g. a task found by scan:, which the file does not spell out
        where = f"{loaded.source}: /{'/'.join(map(str, finding.path))}"
    return f"{where}: {finding.code}: {finding.message}"
