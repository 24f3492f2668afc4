"""``mq-compile export``: the topology as RabbitMQ definitions for ``import_definitions``.

Also holds `read_topology` and `emit`, the file edges shared by the review tools
(``graph``, ``explain``, ``export``): read and validate the topology, write or print a result.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from mqwire.topology.errors import TopologyErrors
from mqwire.topology.loader import load_topology
from mqwire.topology.model import Topology

from .cli import EXIT_INVALID, EXIT_OK, _importable
from .export import DEFAULT_VHOST, exclusive_queues, export_definitions
from .output import write_atomically

EPILOG = """\
examples:
  mq-compile export topology.yaml > definitions.json
  mq-compile export topology.yaml --vhost staging -o definitions.json
  rabbitmqctl import_definitions definitions.json

The document holds exactly what mserve declares: topic exchanges, queues with their
arguments (retry delay queues and dead-letter queues included) and bindings.
"""


@dataclass(frozen=True)
class SourceTopology:
    """A loaded topology and the text and name it came from (for locations)."""

    topology: Topology
    text: str
    source: str


def read_topology(path: str, stderr: TextIO) -> SourceTopology | None:
    """Read and validate ``path`` (scanning its ``scan:`` packages); None after reporting."""
    source = Path(path)
    try:
        text = source.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"{source}: error: cannot read the topology: {exc}", file=stderr)
        return None
    try:
        with _importable(source.parent):
            topology = load_topology(
                text,
                source_name=str(source),
                read_file=lambda name: (source.parent / name).read_text(encoding="utf-8"),
            )
    except TopologyErrors as exc:
        print(exc.render(), file=stderr)
        count = len(exc)
        print(f"{count} error{'s' if count != 1 else ''} in the topology", file=stderr)
        return None
    return SourceTopology(topology, text, str(source))


def emit(text: str, output: str | None, *, stdout: TextIO, stderr: TextIO) -> None:
    """Write ``text`` to the file ``output`` (atomically), or to stdout when None or ``-``."""
    if output is None or output == "-":
        stdout.write(text)
        return
    write_atomically(Path(output), text)
    print(f"wrote {output}", file=stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mq-compile export",
        description="Print the topology as a RabbitMQ definitions document (JSON).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("topology", help="the topology YAML file")
    parser.add_argument(
        "--vhost", default=DEFAULT_VHOST, help="the vhost to define it in (default: %(default)s)"
    )
    parser.add_argument("-o", "--output", metavar="FILE", help="write to FILE, not stdout")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    return run(args, stdout=sys.stdout, stderr=sys.stderr)


def run(args: argparse.Namespace, *, stdout: TextIO, stderr: TextIO) -> int:
    loaded = read_topology(args.topology, stderr)
    if loaded is None:
        return EXIT_INVALID
    for name in exclusive_queues(loaded.topology):
        print(
            f"warning: queue {name!r} is exclusive; definitions cannot hold exclusive queues, "
            "so it is left out (mserve declares it when it connects)",
            file=stderr,
        )
    emit(export_definitions(loaded.topology, args.vhost), args.output, stdout=stdout, stderr=stderr)
    return EXIT_OK
