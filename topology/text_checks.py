"""Checks on every string of a topology, keys included: what no schema pattern can promise.

jsonschema's ``pattern`` uses ``re.search`` and ``$`` also matches before a final newline, so
a name like ``"jobs\\n"`` passes it; and no value of a topology means anything with white
space at its ends. Checking all strings once here keeps every later stage, and the generated
files, safe from line breaks and stray blanks.
"""

from __future__ import annotations

import keyword
import unicodedata
from collections.abc import Iterator
from typing import Any

from ._yaml import ParsedYaml, locate
from .errors import PathPart, TopologyError

#: Names an import path's first word must not take: the registry calls MappingProxyType after
#: its imports, so a module of that name would shadow it (TASKS is bound last, so it is free).
RESERVED_MODULES = frozenset({"MappingProxyType"})


def _is_control(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Zl", "Zp")


def string_problem(text: str) -> str | None:
    """Why ``text`` cannot stand in a topology, or None."""
    for char in text:
        if _is_control(char):
            return f"{text!r} contains the control character U+{ord(char):04X}"
    if text != text.strip():
        return f"{text!r} has white space at its start or end; remove it"
    return None


def text_errors(parsed: ParsedYaml) -> list[TopologyError]:
    """A located error for each key or string value that fails ``string_problem``."""
    errors = []
    for path, text, is_key in _strings(parsed.data, ()):
        problem = string_problem(text)
        if problem:
            errors.append(TopologyError(locate(parsed, path, key=is_key), problem, path))
    return errors


def _strings(
    data: Any, path: tuple[PathPart, ...]
) -> Iterator[tuple[tuple[PathPart, ...], str, bool]]:
    if isinstance(data, str):
        yield path, data, False
    elif isinstance(data, dict):
        for key, value in data.items():
            if isinstance(key, str):
                yield (*path, key), key, True
                yield from _strings(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _strings(value, (*path, index))


def import_path_problem(path: str) -> str | None:
    """Why ``module:attribute`` cannot be written as ``import module`` plus a reference."""
    words = path.replace(":", ".").split(".")
    for word in words:
        if keyword.iskeyword(word):
            return f"{path!r} uses the Python keyword {word!r}, which cannot be imported"
    if words[0] in RESERVED_MODULES:
        return f"{path!r} starts with {words[0]!r}, a name the generated registry uses itself"
    return None
