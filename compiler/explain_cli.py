"""``mq-compile explain``: where a routing key goes, or (``--lint``) what looks wrong."""

from __future__ import annotations

import argparse
from typing import TextIO

from mqwire.topology._yaml import parse_yaml
from mqwire.topology.cli_support import ExitCode
from mqwire.topology.routing import routing_key_problem

from ._cli import Command, SourceTopology, add_import_argument, plural, read_topology
from .explain import (
    DEFAULT_CONSUMER_TIMEOUT,
    Finding,
    explain_key,
    lint,
    render_explanation,
)

EXAMPLES = """\
  mq-compile explain topology.yaml lots.42.mail              every publisher_consumer
  mq-compile explain topology.yaml lots.42.mail --publisher lots
  mq-compile explain topology.yaml --lint                    unreachable queues, shadowed or
                                                             duplicate patterns, queues
                                                             without tasks, tasks with no or
                                                             long timeouts
  mq-compile explain topology.yaml --lint --consumer-timeout 3600
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("topology", help="the topology YAML file")
    parser.add_argument("routing_key", nargs="?", help="the routing key to follow")
    parser.add_argument("--publisher", metavar="NAME", help="only this publisher_consumer")
    parser.add_argument("--lint", action="store_true", help="lint the whole topology")
    parser.add_argument(
        "--consumer-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="the broker's consumer_timeout, for the task timeout checks (default: each "
        f"connection's consumer_timeout, else RabbitMQ's default of {DEFAULT_CONSUMER_TIMEOUT:g})",
    )
    add_import_argument(parser)


def check(args: argparse.Namespace) -> str | None:
    if args.lint == (args.routing_key is not None):
        return "give either a ROUTING_KEY or --lint"
    return None


def run(args: argparse.Namespace, *, stdout: TextIO, stderr: TextIO) -> int:
    """Follow the key, or lint; the report to stdout, diagnostics and counts to stderr."""
    if not args.lint:
        problem = routing_key_problem(args.routing_key)
        if problem is not None:
            print(f"error: {problem}", file=stderr)
            return ExitCode.INVALID
    loaded = read_topology(
        args.topology, stderr, outcome="nothing explained", check_imports=not args.no_import
    )
    if loaded is None:
        return ExitCode.INVALID
    if args.lint:
        findings = lint(loaded.topology, args.consumer_timeout)
        for finding in findings:
            print(format_finding(loaded, finding), file=stdout)
        print(plural(len(findings), "finding"), file=stderr)
        return ExitCode.FINDINGS if findings else ExitCode.OK
    if args.publisher is not None and args.publisher not in loaded.topology.publisher_consumers:
        known = ", ".join(sorted(loaded.topology.publisher_consumers))
        print(f"error: no publisher_consumer {args.publisher!r}; known: {known}", file=stderr)
        return ExitCode.INVALID
    reaches = explain_key(loaded.topology, args.routing_key, args.publisher)
    stdout.write(render_explanation(args.routing_key, reaches))
    return ExitCode.OK if any(r.reaches for r in reaches) else ExitCode.FINDINGS


def format_finding(loaded: SourceTopology, finding: Finding) -> str:
    """``file:line:col: code: message`` when the file holds the path, else the YAML path."""
    span = parse_yaml(loaded.text, loaded.source).spans.get(finding.path)
    if span is not None:
        where = str(span.key or span.value)
    else:  # e.g. a task found by scan:, which the file does not spell out
        where = f"{loaded.source}: /{'/'.join(map(str, finding.path))}"
    return f"{where}: {finding.code}: {finding.message}"


COMMAND = Command(
    name="explain",
    summary="where a routing key goes; lint the whole topology",
    description="Show which queues and tasks a routing key reaches, through which "
    "patterns; or lint the whole topology.",
    examples=EXAMPLES,
    add_arguments=add_arguments,
    run=run,
    check=check,
)
