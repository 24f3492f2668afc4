"""The ``${VAR}`` placeholder grammar's scanner: what is a placeholder and what is malformed.

Split from :mod:`.placeholders` (messages and resolution) so that :mod:`.credentials`, which
finds URL passwords around placeholders, and :mod:`.placeholders`, which masks those passwords
in its messages, both build on it without importing each other.
"""

from __future__ import annotations

import re
from typing import NamedTuple

VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: The inside of a well-formed placeholder (between ``${`` and ``}``).
PLACEHOLDER_BODY = re.compile(
    f"(?P<name>{VAR_NAME.pattern})" + r"(?::-(?P<default>[^}]*))?", re.DOTALL
)
#: The start of a default that goes on to contain ``${`` (nesting).
NESTED_PREFIX = re.compile(VAR_NAME.pattern + ":-.*", re.DOTALL)
#: Characters that end a variable name in a malformed placeholder (shell operators).
OPERATOR_CHARS = ":-=?+"


class Placeholder(NamedTuple):
    """One ``${NAME}`` or ``${NAME:-default}``; ``text[start:end]`` is the whole placeholder."""

    name: str
    default: str | None
    start: int
    end: int


class Problem(NamedTuple):
    start: int
    end: int
    kind: str


def scan(text: str) -> tuple[list[Placeholder], list[Problem]]:
    """Well-formed placeholders and syntax problems, left to right; never raises."""
    found: list[Placeholder] = []
    problems: list[Problem] = []
    i = text.find("$")
    while i >= 0:
        after = text[i + 1 : i + 2]
        if after == "$":
            nxt = i + 2
        elif after == "{":
            nxt = _scan_braces(text, i, found, problems)
        else:
            name = VAR_NAME.match(text, i + 1)
            if name:
                problems.append(Problem(i, name.end(), "braces"))
                nxt = name.end()
            else:
                problems.append(Problem(i, min(i + 2, len(text)), "lone"))
                nxt = i + 1
        i = text.find("$", nxt)
    return found, problems


def _scan_braces(text: str, i: int, found: list[Placeholder], problems: list[Problem]) -> int:
    """Read the ``${`` at ``i``; return where scanning goes on."""
    close = text.find("}", i + 2)
    inner = text.find("${", i + 2)
    if close < 0 or 0 <= inner < close:
        if close >= 0 and NESTED_PREFIX.fullmatch(text, i + 2, inner):
            problems.append(Problem(i, close + 1, "nested"))
            return close + 1
        problems.append(Problem(i, inner if inner >= 0 else len(text), "unclosed"))
        return i + 2
    body = PLACEHOLDER_BODY.fullmatch(text, i + 2, close)
    if body:
        found.append(Placeholder(body["name"], body["default"], i, close + 1))
    else:
        problems.append(Problem(i, close + 1, "malformed"))
    return close + 1


def find_placeholders(text: str) -> tuple[Placeholder, ...]:
    """The placeholders in ``text``, in order; on a malformed text, only the well-formed ones."""
    return tuple(scan(text)[0])
