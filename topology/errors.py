"""Errors of the topology layer: every problem carries where it is, so all can be shown at once."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

#: A key that can be written after a dot in a JSON path (as jsonschema's ``json_path`` does).
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

#: One step of a JSON path: a mapping key or a sequence index.
PathPart = str | int


class MqError(Exception):
    """Base of every error mqwire raises on purpose; catch it to catch them all."""


def format_json_path(parts: Sequence[PathPart]) -> str:
    """Render path parts as ``$.queues['lots.mail'].arguments[0]``."""
    out = ["$"]
    for part in parts:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _PLAIN_KEY.fullmatch(part):
            out.append(f".{part}")
        else:
            out.append("[" + repr(part) + "]")
    return "".join(out)


@dataclass(frozen=True, order=True)
class Location:
    """A place in a source file: 1-based line and column; 0 means unknown."""

    source: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if not self.line:
            return self.source
        return (
            f"{self.source}:{self.line}:{self.column}"
            if self.column
            else (f"{self.source}:{self.line}")
        )


@dataclass(frozen=True)
class TopologyError:
    """One problem in a topology: where, what, and optionally how to fix it.

    ``related`` names other places involved (the first definition of a duplicate, the
    other side of a conflict), as Pyramid's conflict errors do.
    """

    location: Location
    message: str
    path: tuple[PathPart, ...] | None = None
    hint: str | None = None
    related: tuple[Location, ...] = field(default=())

    @property
    def json_path(self) -> str | None:
        return None if self.path is None else format_json_path(self.path)

    def sort_key(self) -> tuple[str, int, int, str]:
        loc = self.location
        return (loc.source, loc.line, loc.column, self.message)

    def __str__(self) -> str:
        text = f"{self.location}: error: {self.message}"
        if self.related:
            text += " (see " + ", ".join(str(r) for r in self.related) + ")"
        if self.hint:
            text += f"; {self.hint}"
        if self.path is not None:
            text += f" (at {self.json_path})"
        return text


class TopologyErrors(MqError):
    """Raised when a topology is invalid; holds every problem found, sorted and de-duplicated."""

    def __init__(self, errors: Iterable[TopologyError]) -> None:
        unique = {(e.sort_key(), str(e)): e for e in errors}
        self.errors: tuple[TopologyError, ...] = tuple(unique[k] for k in sorted(unique))
        super().__init__(self.render())

    def render(self) -> str:
        """All problems, one line each, in a stable order."""
        return "\n".join(str(e) for e in self.errors)

    def __len__(self) -> int:
        return len(self.errors)


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A hint naming the closest known choice, or listing the few there are."""
    known = sorted(choices)
    import difflib  # only when a name is wrong: a worker that starts cleanly never loads it

    close = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    if not known:
        return None
    if len(known) <= 8:
        return "known: " + ", ".join(repr(k) for k in known)
    return None


class PlaceholderError(MqError):
    """Raised by :func:`resolve`, listing every missing variable at once so one fix suffices.

    ``missing`` is sorted and unique; ``problems`` holds syntax problems, if the text had any.
    """

    def __init__(self, missing: Iterable[str] = (), problems: Iterable[str] = ()) -> None:
        self.missing: tuple[str, ...] = tuple(sorted(set(missing)))
        self.problems: tuple[str, ...] = tuple(problems)
        super().__init__(self._render())

    def _render(self) -> str:
        lines: list[str] = []
        if len(self.missing) == 1:
            (name,) = self.missing
            lines.append(
                f"environment variable '{name}' is not set: "
                f"set it or give a default as '${{{name}:-default}}'"
            )
        elif self.missing:
            names = ", ".join(f"'{name}'" for name in self.missing)
            lines.append(
                f"environment variables {names} are not set: "
                "set each one or give it a default as '${VAR:-default}'"
            )
        lines.extend(self.problems)
        return "\n".join(lines)
