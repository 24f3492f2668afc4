"""``mq-compile diff``: classify the changes between two topologies, for review and for CI.

The edge of the semantic diff: reads the two files (or one file and the same path at a git
revision, through ``git show``), loads them without importing ``scan:`` packages, prints the
report and turns it into an exit status.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from mqwire.topology.errors import TopologyErrors
from mqwire.topology.loader import load_topology
from mqwire.topology.model import Topology

from .semantic_diff import BLOCKING, TITLES, counts, diff_topologies
from .semantic_diff_render import render_markdown, render_text

#: Exit codes: nothing blocking, invalid input or usage, blocking changes not allowed.
EXIT_OK, EXIT_INVALID, EXIT_BLOCKED = 0, 2, 3

EPILOG = """\
examples:
  mq-compile diff old.yaml new.yaml                   two files
  mq-compile diff topology.yaml --against origin/main  the file against a git revision (CI)
  mq-compile diff old.yaml new.yaml --format text     plain text instead of Markdown

exit status: 0 only additive, routing or other changes; 2 invalid topology or usage;
3 broker-incompatible or destructive changes, unless --allow-incompatible / --allow-destructive.
"""


class InputError(Exception):
    """A file or revision that cannot be read; the message says which and why."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mq-compile diff",
        description="Classify the changes between two topologies: broker-incompatible, "
        "destructive, routing, additive and other.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.against is None and len(args.files) != 2:
        parser.error("give two files (OLD NEW), or one file and --against REV")
    if args.against is not None and len(args.files) != 1:
        parser.error("with --against, give one file")
    return run(args, stdout=sys.stdout, stderr=sys.stderr)


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
        return EXIT_INVALID
    try:
        old, new = _load(old_text, old_label), _load(new_text, str(new_path))
    except TopologyErrors as exc:
        print(exc.render(), file=stderr)
        count = len(exc)
        print(f"{count} error{'s' if count != 1 else ''}; nothing compared", file=stderr)
        return EXIT_INVALID
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
    return EXIT_BLOCKED if blocked else EXIT_OK


def _load(text: str, source_name: str) -> Topology:
    # No scanner (nothing is imported) and no schema reading: the diff compares paths only.
    return load_topology(text, source_name=source_name, scanner=None, read_file=None)


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
