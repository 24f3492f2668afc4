"""``mq-compile diff``: classify the changes between two topologies, for review and for CI.

The edge of the semantic diff: reads the two files (or one file and the same path at a git
revision, through ``git show``), loads them without importing ``scan:`` packages, prints the
report and turns it into an exit status.
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path
from typing import TextIO

from mqwire.topology.cli_support import ExitCode

from ._cli import Command, load_or_report
from .errors import InputError
from .semantic_diff import diff_topologies
from .semantic_diff_change import BLOCKING, TITLES, counts
from .semantic_diff_render import render_markdown, render_text

EXAMPLES = """\
  mq-compile diff old.yaml topology.yaml              two files: before, after
  mq-compile diff topology.yaml --against HEAD        the file against a git revision
  mq-compile diff topology.yaml --against HEAD --format text   plain text, not Markdown
  (in CI: --against origin/main; old.yaml: a saved copy of the file before the change)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="OLD NEW, or NEW with --against")
    parser.add_argument(
        "--against",
        metavar="REV",
        help="compare FILE with the same path at this git revision (e.g. HEAD, origin/main)",
    )
    parser.add_argument(
        "--format", choices=("markdown", "text"), default="markdown", help="default: markdown"
    )
    parser.add_argument(
        "--allow-incompatible",
        action="store_true",
        help="exit 0 despite broker-incompatible changes (a migration is planned)",
    )
    parser.add_argument(
        "--allow-destructive",
        action="store_true",
        help="exit 0 despite destructive changes (removals are intended)",
    )


def check(args: argparse.Namespace) -> str | None:
    if args.against is None and len(args.files) != 2:
        return "give two files (OLD NEW), or one file and --against REV"
    if args.against is not None and len(args.files) != 1:
        return "with --against, give one file"
    return None


def run(args: argparse.Namespace, *, stdout: TextIO, stderr: TextIO) -> int:
    """Diff as ``args`` say; the report goes to ``stdout``, diagnostics to ``stderr``."""
    try:
        if args.against is None:
            old_path, new_path = Path(args.files[0]), Path(args.files[1])
            old_label, old_text = str(old_path), _read(old_path)
        else:
            new_path = Path(args.files[0])
            old_label = f"{new_path}@{args.against}"
            old_text = git_show(new_path, args.against)
        new_text = _read(new_path)
    except InputError as exc:
        print(f"error: {exc}", file=stderr)
        return ExitCode.INVALID
    # No scanner (nothing is imported) and no schema reading: the diff compares paths only.
    old = load_or_report(old_text, old_label, stderr, outcome="nothing compared")
    new = load_or_report(new_text, str(new_path), stderr, outcome="nothing compared")
    if old is None or new is None:
        return ExitCode.INVALID
    changes = diff_topologies(old, new)
    render = render_markdown if args.format == "markdown" else render_text
    stdout.write(render(changes, old_label, str(new_path)))
    allowed = {"incompatible": args.allow_incompatible, "destructive": args.allow_destructive}
    per_class = counts(changes)
    blocked = [c for c in BLOCKING if per_class[c] and not allowed[c]]
    for cls in blocked:
        flag = f"--allow-{cls}"
        n = per_class[cls]
        print(f"blocked: {n} {TITLES[cls]} change{'s' * (n != 1)} (pass {flag})", file=stderr)
    return ExitCode.BLOCKED if blocked else ExitCode.OK


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the topology: {exc}") from exc


def git_show(path: Path, revision: str) -> str:
    """The content of ``path`` at ``revision``, asked of git in the file's own folder."""
    folder = path.parent if str(path.parent) else Path(".")
    command = ["git", "show", f"{revision}:./{path.name}"]
    try:
        result = subprocess.run(command, cwd=folder, capture_output=True, timeout=60, check=False)
    except FileNotFoundError as exc:
        raise InputError("git is not installed (needed for --against)") from exc
    except OSError as exc:
        raise InputError(f"cannot run git in {folder}: {exc}") from exc
    if result.returncode != 0:
        reason = result.stderr.decode("utf-8", "replace").strip() or "git show failed"
        raise InputError(f"{path} at revision {revision!r}: {reason}")
    try:
        return result.stdout.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} at revision {revision!r} is not UTF-8: {exc}") from exc


COMMAND = Command(
    name="diff",
    summary="classify the changes between two topologies (for pull requests)",
    description="Classify the changes between two topologies: broker-incompatible, "
    "destructive, routing, additive and other.",
    examples=EXAMPLES,
    add_arguments=add_arguments,
    run=run,
    check=check,
)
