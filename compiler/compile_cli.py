"""``mq-compile compile`` (the default command): write the compiled INI and task registry."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
from pathlib import Path
from typing import TextIO

from mqwire.schemas import load_schema
from mqwire.topology.cli_support import ExitCode
from mqwire.topology.model import TRANSPORTS, Transport

from ._cli import Command, add_import_argument, read_topology
from .compile import CompileOptions, compile_topology
from .output import OutputFile, WriteMode, stale_outputs, write_atomically

EXAMPLES = """\
  mq-compile topology.yaml                  write compiled.ini and compiled_registry.py beside it
  mq-compile topology.yaml -o build/        write them into build/
  mq-compile topology.yaml --check          exit 1 if the committed files are stale (CI)
  mq-compile topology.yaml --diff           show what would change, write nothing
  mq-compile topology.yaml --transport local -o dev/   everything in-process, for development
  mq-compile topology.yaml --check --no-import         without importing the tasks (no app here)
  mq-compile --print-schema > topology.schema.json     the JSON Schema, for editors
  (`mq-compile compile topology.yaml ...` is the same: compile is the default command)
"""


#: A file stem: no folder, no line break, nothing a shell or an INI reader treats specially.
_STEM = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")


def _stem(text: str) -> str:
    """``--name``: a plain file stem; the folder is ``-o DIR``'s business."""
    if not _STEM.fullmatch(text) or ".." in text:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a plain file stem: use letters, digits, '_', '-' and '.' "
            "(at most 100), and -o DIR to choose the folder"
        )
    return text


def add_arguments(parser: argparse.ArgumentParser) -> None:
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
        type=_stem,
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
    parser.add_argument(
        "--allow-unverified-tls",
        action="store_true",
        help="accept `verify: false` in a connection's tls: (the broker's certificate and "
        "host name are then not checked)",
    )
    add_import_argument(parser)


def check(args: argparse.Namespace) -> str | None:
    if args.topology is None and not args.print_schema:
        return "the topology file is required"
    return None


def run(args: argparse.Namespace, *, stdout: TextIO, stderr: TextIO) -> int:
    """Compile as ``args`` say; diagnostics go to ``stderr``, diffs and the schema to ``stdout``."""
    if args.print_schema:
        print(json.dumps(load_schema(), indent=2), file=stdout)
        return ExitCode.OK
    outputs = compile_file(
        args.topology,
        stderr,
        output_dir=args.output_dir,
        name=args.name,
        transport=args.transport,
        allow_literal_password=args.allow_literal_password,
        allow_unverified_tls=args.allow_unverified_tls,
        check_imports=not args.no_import,
    )
    if outputs is None:
        return ExitCode.INVALID
    mode = WriteMode.CHECK if args.check else WriteMode.DIFF if args.diff else WriteMode.WRITE
    return _finish(outputs, mode, stdout=stdout, stderr=stderr)


def compile_file(
    topology: str,
    stderr: TextIO,
    *,
    output_dir: str | None = None,
    name: str = "compiled",
    transport: Transport | None = None,
    allow_literal_password: bool = False,
    allow_unverified_tls: bool = False,
    check_imports: bool = True,
) -> list[OutputFile] | None:
    """Read, validate and compile ``topology``: the INI and registry to write (not written).

    None after reporting every located error on ``stderr``. The pytest plugin compiles
    applications' topologies with it, so a test sees what ``mq-compile`` would have said.
    """
    loaded = read_topology(
        topology,
        stderr,
        outcome="nothing written",
        allow_literal_password=allow_literal_password,
        allow_unverified_tls=allow_unverified_tls,
        check_imports=check_imports,
    )
    if loaded is None:
        return None
    source = Path(loaded.source)
    out_dir = Path(output_dir) if output_dir else source.parent
    options = CompileOptions(
        source=Path(os.path.relpath(source, out_dir)).as_posix(),
        source_sha256=hashlib.sha256(loaded.data).hexdigest(),
        registry_file=f"{name}_registry.py",
        transport=transport,
    )
    compiled = compile_topology(loaded.topology, options)
    return [
        OutputFile(path, text, _display(path))
        for path, text in (
            (out_dir / f"{name}.ini", compiled.ini),
            (out_dir / options.registry_file, compiled.registry_py),
        )
    ]


def _finish(outputs: list[OutputFile], mode: WriteMode, *, stdout: TextIO, stderr: TextIO) -> int:
    stale = stale_outputs(outputs)
    if mode is WriteMode.CHECK:
        for output in stale:
            print(f"{output.display}: stale; run mq-compile to update it", file=stderr)
        return ExitCode.FINDINGS if stale else ExitCode.OK
    if mode is WriteMode.DIFF:
        stdout.write("".join(o.diff() for o in stale))
        return ExitCode.OK
    for output in stale:
        write_atomically(output.path, output.text)
        print(f"wrote {output.display}", file=stderr)
    if not stale:
        print("compiled files are up to date", file=stderr)
    return ExitCode.OK


def _display(path: Path) -> str:
    relative = os.path.relpath(path)
    return Path(path if relative.startswith("..") else relative).as_posix()


COMMAND = Command(
    name="compile",
    summary="write the compiled INI and task registry (the default)",
    description="Validate a topology file and compile it into INI settings and a task "
    "registry module.",
    examples=EXAMPLES,
    add_arguments=add_arguments,
    run=run,
    check=check,
)
