"""Writing compiled files, or checking or diffing them: the only compiler code that touches disk."""

from __future__ import annotations

import difflib
import enum
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


class WriteMode(enum.Enum):
    """What to do with the compiled text (Black's ``WriteBack``)."""

    WRITE = "write"
    CHECK = "check"
    DIFF = "diff"


@dataclass(frozen=True)
class OutputFile:
    path: Path
    text: str
    display: str  # the path as shown to the user, relative to the working directory

    def current(self) -> str | None:
        try:
            return self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    @property
    def stale(self) -> bool:
        return self.current() != self.text

    def diff(self) -> str:
        before = self.current()
        return "".join(
            difflib.unified_diff(
                (before or "").splitlines(keepends=True),
                self.text.splitlines(keepends=True),
                fromfile=f"a/{self.display}" if before is not None else "/dev/null",
                tofile=f"b/{self.display}",
            )
        )


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` in one step, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def stale_outputs(outputs: Iterable[OutputFile]) -> list[OutputFile]:
    """The files whose content on disk differs from the compiled text."""
    return [o for o in outputs if o.stale]
