"""``mq-compile``: the compiler and its review tools, as argparse subcommands.

``mq-compile topology.yaml [options]`` stays the short form of ``mq-compile compile``, as CI
and the Makefile use it: the first argument picks a command when it names one, compile when it
is an option or a topology file; anything else is a usage error naming the commands.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from mqwire.topology.cli_support import add_version, exit_status_help

from . import compile_cli, diff_cli, explain_cli, export_cli, graph_cli
from ._cli import Command

#: The commands, in the order --help lists them; the first is the default.
COMMANDS: tuple[Command, ...] = (
    compile_cli.COMMAND,
    diff_cli.COMMAND,
    graph_cli.COMMAND,
    explain_cli.COMMAND,
    export_cli.COMMAND,
)

#: Options the top parser answers itself; any other leading option belongs to compile.
TOP_OPTIONS = ("-h", "--help", "--version")

#: Suffixes that make a first argument a topology file even before it exists.
TOPOLOGY_SUFFIXES = (".yaml", ".yml")

EXAMPLES = """\
examples:
  {prog} topology.yaml --check          compile (the default command); exit 1 if stale
  {prog} compile topology.yaml -o build/
  {prog} graph topology.yaml            Mermaid on stdout (paste into a PR)
  {prog} explain topology.yaml lots.42.mail
  {prog} COMMAND --help                 each command's options and examples
"""


@dataclass(frozen=True)
class External:
    """A command another CLI runs (``python -m mqwire serve``): its help line, its main."""

    summary: str
    example: str
    main: Callable[[list[str], str], int]  #: called with the remaining argv and the prog


def build_parser(
    prog: str = "mq-compile", external: Mapping[str, External] | None = None
) -> argparse.ArgumentParser:
    return _build(prog, external or {})[0]


def _build(
    prog: str, external: Mapping[str, External]
) -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    examples = EXAMPLES.format(prog=prog) + "".join(
        f"  {prog} {e.example}\n" for e in external.values()
    )
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Compile a topology file, and review it: diff, graph, explain, export."
        + (f"\nAlso {', '.join(external)}: see COMMAND --help." if external else ""),
        epilog=examples
        + "\n"
        + exit_status_help("mq-compile")
        + "(each command lists its own; the codes are shared by every mqwire command)\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_version(parser)
    sub = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")
    parsers: dict[str, argparse.ArgumentParser] = {}
    for command in COMMANDS:
        parsers[command.name] = sub.add_parser(
            command.name,
            help=command.summary,
            description=command.description,
            epilog=command.epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.add_arguments(parsers[command.name])
        add_version(parsers[command.name])
        parsers[command.name].set_defaults(run_command=command)
    for name, other in external.items():  # listed only: main() hands them their argv first
        sub.add_parser(name, help=other.summary, add_help=False)
    return parser, parsers


def parse_args(
    argv: Sequence[str], *, prog: str = "mq-compile", external: Mapping[str, External] | None = None
) -> argparse.Namespace:
    """Parse ``argv``, compile being the default command; exits 2 on a usage error."""
    parser, parsers = _build(prog, external or {})
    names = [*parsers, *(external or {})]
    args = parser.parse_args(_with_command(list(argv), names, parser))
    problem = args.run_command.check(args)
    if problem is not None:
        parsers[args.command].error(problem)
    return args


def _with_command(
    argv: list[str], names: Sequence[str], parser: argparse.ArgumentParser
) -> list[str]:
    """``argv`` with ``compile`` put first when it starts with an option or a topology file."""
    listing = ", ".join(names)
    if not argv:
        parser.error(f"the topology file is required (or a command: {listing})")
    first = argv[0]
    if first in names or first in TOP_OPTIONS:
        return argv
    path = Path(first)
    if first.startswith("-") or path.suffix in TOPOLOGY_SUFFIXES or path.is_file():
        return ["compile", *argv]
    close = difflib.get_close_matches(first, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    parser.error(f"invalid choice: {first!r} (choose from {listing}, or a topology file){hint}")


def main(
    argv: Sequence[str] | None = None,
    *,
    prog: str = "mq-compile",
    external: Mapping[str, External] | None = None,
) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and external and argv[0] in external:
        return external[argv[0]].main(argv[1:], f"{prog} {argv[0]}")
    return run(argv, stdout=sys.stdout, stderr=sys.stderr, prog=prog, external=external)


def run(
    argv: Sequence[str],
    *,
    stdout: TextIO,
    stderr: TextIO,
    prog: str = "mq-compile",
    external: Mapping[str, External] | None = None,
) -> int:
    """Parse ``argv`` (a usage error exits 2) and run its command with these streams."""
    args = parse_args(argv, prog=prog, external=external)
    command: Command = args.run_command
    return command.run(args, stdout=stdout, stderr=stderr)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
