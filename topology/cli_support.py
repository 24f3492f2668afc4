"""What every mqwire command shares and can import without the runtime: exit codes, --version.

One table of exit codes for ``mq-compile`` (and its tools), ``mserve`` and ``mqctl``: a number
means the same kind of outcome whichever command returns it, so scripts and supervisors can
branch on it. Each command's ``--help`` and docs/exit-codes.md are written from ``MEANINGS``.
"""

from __future__ import annotations

import argparse
import enum
import os
import sys
from collections.abc import Sequence
from typing import Any


class ExitCode(enum.IntEnum):
    """The exit status of every mqwire command; ``MEANINGS`` says what each command means."""

    OK = 0  #: done, up to date, clean, or (mserve) stopped cleanly
    FINDINGS = 1  #: ran, and the answer needs a look: stale files, drift, lint findings...
    INVALID = 2  #: bad usage, invalid topology, bad config or import, refused operation
    UNREACHABLE = 3  #: the broker could not be reached
    TOPOLOGY_MISMATCH = 4  #: a queue or exchange exists on the broker with other arguments
    BLOCKED = 5  #: ``mq-compile diff``: broker-incompatible or destructive changes
    STUCK = 6  #: ``mserve``: tasks stuck past their timeout; restart the process
    UNCONFIRMED = 7  #: a change needed a confirmation nobody could give (no TTY, no ``--yes``)
    CRASH_LOOP = 8  #: ``mserve --processes``: a child kept dying; the group stopped


#: Per command, what each code it can return means there (codes it never returns are absent).
MEANINGS: dict[str, dict[ExitCode, str]] = {
    "mq-compile": {
        ExitCode.OK: "compiled, or the files are up to date",
        ExitCode.FINDINGS: "--check found missing or stale compiled files",
        ExitCode.INVALID: "invalid topology, unreadable file or bad usage",
    },
    "mq-compile diff": {
        ExitCode.OK: "only additive, routing or other changes (or none)",
        ExitCode.INVALID: "invalid topology, unreadable file or revision, or bad usage",
        ExitCode.BLOCKED: "broker-incompatible or destructive changes, unless "
        "--allow-incompatible / --allow-destructive",
    },
    "mq-compile graph": {
        ExitCode.OK: "drawn",
        ExitCode.INVALID: "invalid topology, bad usage, or Graphviz missing or failing",
    },
    "mq-compile explain": {
        ExitCode.OK: "the key reaches a queue / the lint is clean",
        ExitCode.FINDINGS: "the key reaches no queue / the lint has findings",
        ExitCode.INVALID: "invalid topology, routing key or usage",
    },
    "mq-compile export": {
        ExitCode.OK: "exported",
        ExitCode.INVALID: "invalid topology or bad usage",
    },
    "mserve": {
        ExitCode.OK: "stopped by a signal; every in-flight task finished and was acked",
        ExitCode.FINDINGS: "forced stop (second signal or grace over): in-flight messages "
        "were requeued",
        ExitCode.INVALID: "bad config: unreadable INI or --log-config file, registry import "
        "error, unknown name, refused credentials, a TLS handshake that cannot succeed",
        ExitCode.UNREACHABLE: "broker unreachable for longer than --max-unreachable seconds",
        ExitCode.TOPOLOGY_MISMATCH: "topology mismatch: a queue or exchange exists on the "
        "broker with other arguments",
        ExitCode.STUCK: "--max-stuck tasks overran their timeout and could not be stopped: "
        "it stopped taking messages and drained; restart it",
        ExitCode.CRASH_LOOP: "--processes: --max-deaths children died within "
        "--restart-window seconds; the group stopped the others (each drained within --grace)",
    },
    "mqctl": {
        ExitCode.OK: "done",
        ExitCode.FINDINGS: "verify found drift between the broker and the topology",
        ExitCode.INVALID: "bad usage or config (a TLS handshake that cannot succeed "
        "included), refused operation, failed publish; apply --prune without the management API",
        ExitCode.UNREACHABLE: "broker unreachable",
        ExitCode.TOPOLOGY_MISMATCH: "apply: a queue or exchange exists on the broker with "
        "other arguments; nothing was changed",
        ExitCode.UNCONFIRMED: "apply --prune: bindings to remove, no terminal to confirm on and "
        "no --yes; nothing was changed",
    },
}


def exit_status_help(command: str) -> str:
    """The ``exit status:`` section of ``command``'s --help, one code a line."""
    lines = [f"  {int(code)} {text}" for code, text in MEANINGS[command].items()]
    return "exit status:\n" + "\n".join(lines) + "\n"


def exit_codes_markdown() -> str:
    """The table of docs/exit-codes.md: one row per code and command that returns it."""
    rows = ["| code | name | command | meaning |", "| --- | --- | --- | --- |"]
    for code in ExitCode:
        for command, meanings in MEANINGS.items():
            if code in meanings:
                rows.append(f"| {int(code)} | `{code.name}` | `{command}` | {meanings[code]} |")
    return "\n".join(rows) + "\n"


def version_text(name: str) -> str:
    """``mq-compile (mqwire) 0.1.0``, or ``mqwire serve 0.1.0``: the installed version."""
    from importlib import metadata  # only when asked: it costs mserve's start-up ~10 ms

    try:
        version = metadata.version("mqwire")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        version = "unknown"
    name = name.removeprefix("python -m ")  # `python -m mqwire serve` is mqwire's own name
    return f"{name} {version}" if name.split()[0] == "mqwire" else f"{name} (mqwire) {version}"


class _VersionAction(argparse.Action):
    """argparse's ``version`` action, reading the version only when the option is given."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(
            option_strings, argparse.SUPPRESS, nargs=0, default=argparse.SUPPRESS, **kwargs
        )

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        print(version_text(parser.prog), file=sys.stdout)
        parser.exit()


class DescriptionFormatter(argparse.RawDescriptionHelpFormatter):
    """``RawDescriptionHelpFormatter`` as wide as the terminal, measured as
    ``shutil.get_terminal_size`` does but without importing ``shutil`` (and the ``bz2`` and
    ``lzma`` modules it loads): argparse makes a formatter at every ``add_argument``, so
    ``mserve`` would load them into every worker just to start."""

    def __init__(
        self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
        width: int | None = None,
    ) -> None:  # fmt: skip
        width = _columns() - 2 if width is None else width  # argparse's margin of 2
        super().__init__(prog, indent_increment, max_help_position, width)


def _columns() -> int:
    """``shutil.get_terminal_size().columns``: ``COLUMNS``, else the terminal's, else 80."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


def add_version(parser: argparse.ArgumentParser) -> None:
    """Give ``parser`` a ``--version`` option naming its prog and the installed mqwire."""
    parser.add_argument(
        "--version", action=_VersionAction, help="show the program's version and exit"
    )
