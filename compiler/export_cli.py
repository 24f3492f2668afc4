"""``mq-compile export``: the topology as RabbitMQ definitions for ``import_definitions``."""

from __future__ import annotations

import argparse
from typing import TextIO

from mqwire.topology.cli_support import ExitCode

from ._cli import Command, add_import_argument, emit, read_topology
from .export import DEFAULT_VHOST, exclusive_queues, export_definitions

EXAMPLES = """\
  mq-compile export topology.yaml > definitions.json
  mq-compile export topology.yaml --vhost staging -o definitions.json
  rabbitmqctl import_definitions definitions.json

The document holds exactly what mserve declares: topic exchanges, queues with their
arguments (retry delay queues and dead-letter queues included) and bindings.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("topology", help="the topology YAML file")
    parser.add_argument(
        "--vhost", default=DEFAULT_VHOST, help="the vhost to define it in (default: %(default)s)"
    )
    parser.add_argument("-o", "--output", metavar="FILE", help="write to FILE, not stdout")
    add_import_argument(parser)


def run(args: argparse.Namespace, *, stdout: TextIO, stderr: TextIO) -> int:
    """Print or write the definitions; warn about exclusive queues they cannot hold."""
    loaded = read_topology(
        args.topology, stderr, outcome="nothing exported", check_imports=not args.no_import
    )
    if loaded is None:
        return ExitCode.INVALID
    for name in exclusive_queues(loaded.topology):
        print(
            f"warning: queue {name!r} is exclusive; definitions cannot hold exclusive queues, "
            "so it is left out (mserve declares it when it connects)",
            file=stderr,
        )
    text = export_definitions(loaded.topology, args.vhost)
    return emit(text, args.output, stdout=stdout, stderr=stderr)


COMMAND = Command(
    name="export",
    summary="the topology as RabbitMQ definitions (import_definitions)",
    description="Print the topology as a RabbitMQ definitions document (JSON).",
    examples=EXAMPLES,
    add_arguments=add_arguments,
    run=run,
)
