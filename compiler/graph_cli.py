"""``mq-compile graph``: draw the topology as Mermaid or Graphviz DOT, or an SVG/PNG picture."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from .cli import EXIT_INVALID, EXIT_OK
from .export_cli import emit, read_topology
from .graph import FORMATS, render

EPILOG = """\
examples:
  mq-compile graph topology.yaml                    Mermaid on stdout (paste into a PR)
  mq-compile graph topology.yaml --format dot -o topology.dot
  mq-compile graph topology.yaml -o topology.svg    needs Graphviz's `dot` on PATH

The output format follows --format, else the -o suffix (.dot/.gv: dot, .svg/.png: a picture
drawn by Graphviz), else Mermaid.
"""

#: Picture suffixes Graphviz draws for us.
PICTURES = (".svg", ".png")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mq-compile graph",
        description="Draw publishers -> exchanges -> routes -> queues -> tasks, with retry "
        "and dead-letter edges.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("topology", help="the topology YAML file")
    parser.add_argument("--format", choices=FORMATS, help="text format (default: mermaid)")
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="write to FILE (.svg/.png drawn by Graphviz)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    return run(args, stdout=sys.stdout, stderr=sys.stderr)


def run(args: argparse.Namespace, *, stdout: TextIO, stderr: TextIO) -> int:
    suffix = Path(args.output).suffix.lower() if args.output else ""
    picture = suffix in PICTURES
    if picture and args.format == "mermaid":
        print(
            f"error: cannot draw Mermaid as {suffix}; use --format dot or a .mmd file", file=stderr
        )
        return EXIT_INVALID
    dot = shutil.which("dot") if picture else None
    if picture and dot is None:
        print(
            f"error: drawing {args.output} needs Graphviz's `dot`, which is not on PATH; "
            "install Graphviz (e.g. apt-get install graphviz), or write text with "
            "--format dot / --format mermaid",
            file=stderr,
        )
        return EXIT_INVALID
    loaded = read_topology(args.topology, stderr)
    if loaded is None:
        return EXIT_INVALID
    fmt = args.format or ("dot" if picture or suffix in (".dot", ".gv") else "mermaid")
    text = render(loaded.topology, fmt)
    if dot is None:
        emit(text, args.output, stdout=stdout, stderr=stderr)
        return EXIT_OK
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
        return EXIT_INVALID
    print(f"wrote {output}", file=stderr)
    return EXIT_OK
