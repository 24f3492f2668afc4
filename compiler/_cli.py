"""The file edges every ``mq-compile`` command shares, and the shape of a command.

Reading a topology, loading it with ``scan:`` packages and task paths importable, reporting
its located errors, printing or writing a result: written once here, so ``compile``, ``diff``,
``graph``, ``explain`` and ``export`` report the same way and none imports another's internals.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TextIO

from mqwire.topology.cli_support import ExitCode, exit_status_help
from mqwire.topology.errors import TopologyErrors
from mqwire.topology.loader import load_topology
from mqwire.topology.model import Topology
from mqwire.topology.scan import Scanner, scan_packages
from mqwire.topology.task_imports import Importer, ModuleImporter

from .output import write_atomically


class Runner(Protocol):
    """A command's body: parsed ``args`` in, an ``ExitCode`` out; output only to the streams."""

    def __call__(self, args: argparse.Namespace, *, stdout: TextIO, stderr: TextIO) -> int: ...


@dataclass(frozen=True)
class Command:
    """One ``mq-compile`` command: its help, its arguments, and what it does.

    ``run(args, stdout=..., stderr=...)`` returns an ``ExitCode``; ``check(args)`` returns a
    usage error for combinations argparse cannot express, or None.
    """

    name: str
    summary: str
    description: str
    examples: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Runner
    check: Callable[[argparse.Namespace], str | None] = lambda args: None

    @property
    def epilog(self) -> str:
        """Runnable examples, then the exit codes from the shared table."""
        table = "mq-compile" if self.name == "compile" else f"mq-compile {self.name}"
        return f"examples:\n{self.examples}\n" + exit_status_help(table)


@dataclass(frozen=True)
class SourceTopology:
    """A loaded topology and the text, bytes and name it came from (for locations, hashes)."""

    topology: Topology
    text: str
    source: str
    data: bytes


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


def report_errors(exc: TopologyErrors, stderr: TextIO, outcome: str) -> None:
    """Every located error, sorted, then a count and what did not happen (``outcome``)."""
    print(exc.render(), file=stderr)
    print(f"{plural(len(exc), 'error')}; {outcome}", file=stderr)


def add_import_argument(parser: argparse.ArgumentParser) -> None:
    """``--no-import``: the same switch, with the same help, on every command that loads a file."""
    parser.add_argument(
        "--no-import",
        action="store_true",
        help="do not import the tasks' task: and root_factory: paths to check them "
        "(for machines without the application's dependencies; scan: packages are still "
        "imported)",
    )


def read_topology(
    path: str,
    stderr: TextIO,
    *,
    outcome: str = "nothing done",
    allow_literal_password: bool = False,
    allow_unverified_tls: bool = False,
    scan: bool = True,
    check_imports: bool = True,
) -> SourceTopology | None:
    """Read and validate ``path``; None after reporting why not on ``stderr``.

    With ``scan``, the file's ``scan:`` packages are imported from beside it and ``schema:``
    files read from there; with ``check_imports`` too, each task's ``task:`` and
    ``root_factory:`` is imported from there; without ``scan``, nothing is imported.
    """
    source = Path(path)
    try:
        data = source.read_bytes()
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"{source}: error: cannot read the topology: {exc}", file=stderr)
        return None
    topology = load_or_report(
        text,
        str(source),
        stderr,
        outcome=outcome,
        scanner=scan_packages if scan else None,
        importer=ModuleImporter() if scan and check_imports else None,
        allow_literal_password=allow_literal_password,
        allow_unverified_tls=allow_unverified_tls,
        folder=source.parent if scan else None,
    )
    return None if topology is None else SourceTopology(topology, text, str(source), data)


def load_or_report(
    text: str,
    source_name: str,
    stderr: TextIO,
    *,
    outcome: str,
    scanner: Scanner | None = None,
    importer: Importer | None = None,
    allow_literal_password: bool = False,
    allow_unverified_tls: bool = False,
    folder: Path | None = None,
) -> Topology | None:
    """Load ``text``; None after reporting its errors. ``folder``: where imports, schema: look."""
    read_file = None if folder is None else _reader(folder)
    try:
        with contextlib.nullcontext() if folder is None else importable(folder, stderr):
            return load_topology(
                text,
                source_name=source_name,
                scanner=scanner,
                importer=importer,
                allow_literal_password=allow_literal_password,
                allow_unverified_tls=allow_unverified_tls,
                read_file=read_file,
            )
    except TopologyErrors as exc:
        report_errors(exc, stderr, outcome)
        return None


def emit(text: str, output: str | None, *, stdout: TextIO, stderr: TextIO) -> int:
    """Write ``text`` to the file ``output`` (atomically), or to stdout when None or ``-``."""
    if output is None or output == "-":
        stdout.write(text)
        return ExitCode.OK
    write_atomically(Path(output), text)
    print(f"wrote {output}", file=stderr)
    return ExitCode.OK


def _reader(folder: Path) -> Callable[[str], str]:
    return lambda name: (folder / name).read_text(encoding="utf-8")


@contextlib.contextmanager
def importable(folder: Path, stderr: TextIO) -> Iterator[None]:
    """Put the topology's folder first on ``sys.path`` while ``scan:`` and task paths import.

    What the imported modules print goes to ``stderr``, never into the command's output.
    """
    entry = str(folder.resolve())
    sys.path.insert(0, entry)
    try:
        with contextlib.redirect_stdout(stderr):
            yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(entry)
