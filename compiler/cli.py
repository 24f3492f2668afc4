"""``mq-compile``: validate a topology file and write its compiled INI and task registry."""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TextIO

from mqwire.schemas import load_schema
from mqwire.topology.errors import TopologyErrors
from mqwire.topology.loader import load_topology
from mqwire.topology.model import TRANSPORTS

from .compile import CompileOptions, compile_topology
from .output import OutputFile, WriteMode, stale_outputs, write_atomically

#: Exit codes: done (or up to date), --check found stale files, invalid input or usage.
EXIT_OK, EXIT_STALE, EXIT_INVALID = 0, 1, 2

EPILOG = """\
examples:
  mq-compile topology.yaml                  write compiled.ini and compiled_registry.py beside it
  mq-compile topology.yaml -o build/        write them into build/
  mq-compile topology.yaml --check          exit 1 if the committed files are stale (CI)
  mq-compile topology.yaml --diff           show what would change, write nothing
  mq-compile topology.yaml --transport local -o dev/   everything in-process, for development
  mq-compile --print-schema > topology.schema.json     the JSON Schema, for editors

review tools (mq-compile TOOL --help for each):
  mq-compile diff OLD.yaml NEW.yaml         mq-compile graph topology.yaml
  mq-compile explain topology.yaml KEY      mq-compile export topology.yaml

exit status: 0 done or up to date, 1 --check found stale files, 2 invalid topology or usage.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mq-compile",
        description="Validate a topology file and compile it into INI settings and a task "
        "registry module.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("topology", nargs="?", help="the topology YAML file")
    parser.add_argument(
        "-o",
        "--output-dir",
        metavar="DIR",
        help="where to write the compiled files (default: the topology's folder)",
    )
    parser.add_argument(
        "--name",
        default="compiled",
        help="stem of the output files: NAME.ini and NAME_registry.py (default: %(default)s)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if the compiled files are missing or stale",
    )
    mode.add_argument(
        "--diff",
        action="store_true",
        help="write nothing; print a unified diff of what would change",
    )
    parser.add_argument(
        "--transport", choices=TRANSPORTS, help="compile every publisher_consumer to this transport"
    )
    parser.add_argument(
        "--print-schema",
        action="store_true",
        help="print the topology JSON Schema (for editor completion) and exit",
    )
    parser.add_argument(
        "--allow-literal-password",
        action="store_true",
        help="accept a password written into a connection URL",
    )
    return parser


#: Review tools, run as ``mq-compile TOOL ...``: module and one-line summary for --help.
TOOLS: dict[str, tuple[str, str]] = {
    "diff": (".diff_cli", "classify the changes between two topologies (for pull requests)"),
    "graph": (".graph_cli", "draw publishers, exchanges, queues and tasks (Mermaid, DOT)"),
    "explain": (".explain_cli", "where a routing key goes; lint the whole topology"),
    "export": (".export_cli", "the topology as RabbitMQ definitions (import_definitions)"),
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in TOOLS:  # a tool, not a topology file (a file has a suffix)
        module = importlib.import_module(TOOLS[argv[0]][0], __package__)
        tool_main: Callable[[list[str]], int] = module.main
        return tool_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.print_schema:
        print(json.dumps(load_schema(), indent=2))
        return EXIT_OK
    if args.topology is None:
        parser.error("the topology file is required")
    return run(args, stdout=sys.stdout, stderr=sys.stderr)


def run(args: argparse.Namespace, *, stdout: TextIO, stderr: TextIO) -> int:
    """Compile as ``args`` say; diagnostics go to ``stderr``, diffs to ``stdout``."""
    source = Path(args.topology)
    try:
        data = source.read_bytes()
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"{source}: error: cannot read the topology: {exc}", file=stderr)
        return EXIT_INVALID
    out_dir = Path(args.output_dir) if args.output_dir else source.parent
    try:
        with _importable(source.parent):
            topology = load_topology(
                text,
                source_name=str(source),
                allow_literal_password=args.allow_literal_password,
                read_file=lambda name: (source.parent / name).read_text(encoding="utf-8"),
            )
    except TopologyErrors as exc:
        print(exc.render(), file=stderr)
        count = len(exc)
        print(f"{count} error{'s' if count != 1 else ''}; nothing written", file=stderr)
        return EXIT_INVALID
    options = CompileOptions(
        source=Path(os.path.relpath(source, out_dir)).as_posix(),
        source_sha256=hashlib.sha256(data).hexdigest(),
        registry_file=f"{args.name}_registry.py",
        transport=args.transport,
    )
    compiled = compile_topology(topology, options)
    outputs = [
        OutputFile(
            out_dir / f"{args.name}.ini", compiled.ini, _display(out_dir / f"{args.name}.ini")
        ),
        OutputFile(
            out_dir / options.registry_file,
            compiled.registry_py,
            _display(out_dir / options.registry_file),
        ),
    ]
    return _finish(
        outputs,
        WriteMode.CHECK if args.check else WriteMode.DIFF if args.diff else WriteMode.WRITE,
        stdout=stdout,
        stderr=stderr,
    )


def _finish(outputs: list[OutputFile], mode: WriteMode, *, stdout: TextIO, stderr: TextIO) -> int:
    stale = stale_outputs(outputs)
    if mode is WriteMode.CHECK:
        for output in stale:
            print(f"{output.display}: stale; run mq-compile to update it", file=stderr)
        return EXIT_STALE if stale else EXIT_OK
    if mode is WriteMode.DIFF:
        stdout.write("".join(o.diff() for o in stale))
        return EXIT_OK
    for output in stale:
        write_atomically(output.path, output.text)
        print(f"wrote {output.display}", file=stderr)
    if not stale:
        print("compiled files are up to date", file=stderr)
    return EXIT_OK


def _display(path: Path) -> str:
    relative = os.path.relpath(path)
    return Path(path if relative.startswith("..") else relative).as_posix()


@contextlib.contextmanager
def _importable(folder: Path) -> Iterator[None]:
    """Put the topology's folder first on ``sys.path`` while ``scan:`` imports packages."""
    entry = str(folder.resolve())
    sys.path.insert(0, entry)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(entry)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
