"""``mq-compile graph``: draw the topology as Mermaid or Graphviz DOT, or an SVG/PNG picture."""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path
from typing import TextIO

from mqwire.topology.cli_support import ExitCode

from ._cli import Command, add_import_argument, emit, read_topology
from .graph import FORMATS, render

EXAMPLES = """\
  mq-compile graph topology.yaml                    Mermaid on stdout (paste into a PR)
  mq-compile graph topology.yaml --format dot -o topology.dot
  mq-compile graph topology.yaml -o topology.svg    needs Graphviz's `dot` on PATH

The output format follows --format, else the -o suffix (.dot/.gv: dot, .svg/.png: a picture
drawn by Graphviz), else Mermaid.
"""

#: Picture suffixes Graphviz draws for us.
PICTURES = (".svg", ".png")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("topology", help="the topology YAML file")
    parser.add_argument("--format", choices=FORMATS, help="text format (default: mermaid)")
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="write to FILE (.svg/.png drawn by Graphviz)"
    )
    add_import_argument(parser)


def run(args: argparse.Namespace, *, stdout: TextIO, stderr: TextIO) -> int:
    """Draw as ``args`` say: text to stdout or ``-o``, a picture through Graphviz."""
    suffix = Path(args.output).suffix.lower() if args.output else ""
    picture = suffix in PICTURES
    if picture and args.format == "mermaid":
        print(
            f"error: cannot draw Mermaid as {suffix}; use --format dot or a .mmd file", file=stderr
        )
        return ExitCode.INVALID
    dot = shutil.which("dot") if picture else None
    if picture and dot is None:
        print(
            f"error: drawing {args.output} needs Graphviz's `dot`, which is not on PATH; "
            "install Graphviz (e.g. apt-get install graphviz), or write text with "
            "--format dot / --format mermaid",
            file=stderr,
        )
        return ExitCode.INVALID
    loaded = read_topology(
        args.topology, stderr, outcome="nothing drawn", check_imports=not args.no_import
    )
    if loaded is None:
        return ExitCode.INVALID
    fmt = args.format or ("dot" if picture or suffix in (".dot", ".gv") else "mermaid")
    text = render(loaded.topology, fmt)
    if dot is None:
        return emit(text, args.output, stdout=stdout, stderr=stderr)
    return _draw(dot, text, Path(args.output), stderr=stderr)


def _draw(dot: str, text: str, output: Path, *, stderr: TextIO) -> int:
    """Run Graphviz on the DOT ``text``, writing ``output`` in the format of its suffix."""
    output.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [dot, f"-T{output.suffix.lower()[1:]}", "-o", str(output)],
        input=text.encode("utf-8"),
        capture_output=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip()
        print(f"error: dot failed ({done.returncode}): {message}", file=stderr)
        return ExitCode.INVALID
    print(f"wrote {output}", file=stderr)
    return ExitCode.OK


COMMAND = Command(
    name="graph",
    summary="draw publishers, exchanges, queues and tasks (Mermaid, DOT)",
    description="Draw publishers -> exchanges -> routes -> queues -> tasks, with retry "
    "and dead-letter edges.",
    examples=EXAMPLES,
    add_arguments=add_arguments,
    run=run,
)
