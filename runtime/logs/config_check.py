"""What the stdlib's ``logging.config`` would trip over, found before it runs, all at once.

``dictConfig`` stops at the first bad entry with a message that names the entry but not the
mistake (``Unable to configure logger 'app'``), and ``fileConfig`` with a bare ``KeyError``.
The usual mistakes (a misspelt handler, formatter or filter name, a level in lower case, a
missing section or ``class``) are found here, each with the place it is at. What only running
the configuration shows (a class that does not import, a log file that cannot be opened) is
left to it. Pure: data in, problems out.
"""

from __future__ import annotations

import configparser
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from mqwire.topology.errors import PathPart, did_you_mean

#: The keys of a dictConfig mapping (the stdlib ignores any other: a typo would do nothing).
DICT_KEYS = (
    "version", "formatters", "filters", "handlers", "loggers", "root", "incremental",
    "disable_existing_loggers",
)  # fmt: skip
#: The sections fileConfig reads, each with ``keys = NAME, ...``.
INI_SECTIONS = ("loggers", "handlers", "formatters")


@dataclass(frozen=True)
class Problem:
    """One mistake: where (a path into the data, or ``(section, option)`` of an INI file)."""

    path: tuple[PathPart, ...]
    message: str
    hint: str | None = None
    key: bool = False  #: point at the key itself rather than its value


def level_problem(level: object, path: tuple[PathPart, ...]) -> Problem | None:
    """A level neither a number nor one of logging's names (which are upper case)."""
    names = logging.getLevelNamesMapping()
    if (isinstance(level, int) and not isinstance(level, bool)) or level in names:
        return None
    if isinstance(level, str) and level.strip().upper() in names:
        hint = f"write it as {level.strip().upper()!r}: level names are upper case"
    else:
        hint = "use one of DEBUG, INFO, WARNING, ERROR, CRITICAL"
    return Problem(path, f"unknown level {level!r}", hint)


def dict_problems(data: object) -> list[Problem]:
    """The mistakes of a dictConfig mapping (as read from JSON or YAML)."""
    if not isinstance(data, dict):
        return [Problem((), "a dictConfig file holds one mapping: version: 1, handlers, loggers")]
    found: list[Problem] = []
    if "version" not in data:
        found.append(Problem((), "'version' is missing", "dictConfig needs 'version: 1'"))
    elif data["version"] != 1 or isinstance(data["version"], bool):
        found.append(Problem(("version",), f"unsupported version {data['version']!r}", "use 1"))
    for key in data:
        if key not in DICT_KEYS:
            hint = did_you_mean(str(key), DICT_KEYS)
            found.append(Problem((key,), f"unknown key {key!r}: dictConfig ignores it", hint, True))
    named: dict[str, dict[str, Mapping[str, object]]] = {}
    for section in ("formatters", "filters", "handlers", "loggers"):
        named[section] = _entries(data, section, found)
    root = data.get("root", {})
    loggers: list[tuple[tuple[PathPart, ...], Mapping[str, object]]]
    loggers = [(("loggers", n), e) for n, e in named["loggers"].items()]
    if isinstance(root, dict):
        loggers.append((("root",), root))
    elif "root" in data:
        found.append(Problem(("root",), "'root' must be a mapping (level, handlers)"))
    incremental = data.get("incremental") is True  # names then refer to what exists already
    for name, handler in named["handlers"].items():
        path: tuple[PathPart, ...] = ("handlers", name)
        if not incremental and "class" not in handler and "()" not in handler:
            found.append(Problem(path, f"handler {name!r} has no 'class'", None, True))
        found += _level(handler, path)
        if not incremental:
            found += _refs(handler, path, "formatter", named["formatters"], single=True)
            found += _refs(handler, path, "filters", named["filters"])
            found += _refs(handler, path, "target", named["handlers"], single=True)
    for path, logger in loggers:
        found += _level(logger, path)
        if not incremental:
            found += _refs(logger, path, "handlers", named["handlers"])
            found += _refs(logger, path, "filters", named["filters"])
    return found


def _entries(
    data: Mapping[str, object], section: str, found: list[Problem]
) -> dict[str, Mapping[str, object]]:
    """The named entries of ``section``; a problem for each that is not a mapping."""
    value = data.get(section, {})
    if not isinstance(value, dict):
        found.append(Problem((section,), f"'{section}' must be a mapping of names to settings"))
        return {}
    entries: dict[str, Mapping[str, object]] = {}
    for name, entry in value.items():
        if isinstance(entry, dict):
            entries[str(name)] = entry
        else:
            found.append(Problem((section, name), f"{section[:-1]} {name!r} must be a mapping"))
    return entries


def _level(entry: Mapping[str, object], path: tuple[PathPart, ...]) -> list[Problem]:
    problem = "level" in entry and level_problem(entry["level"], (*path, "level"))
    return [problem] if problem else []


def _refs(
    entry: Mapping[str, object],
    path: tuple[PathPart, ...],
    key: str,
    known: Mapping[str, object],
    *,
    single: bool = False,
) -> list[Problem]:
    """Each name under ``key`` that ``known`` does not define."""
    if key not in entry:
        return []
    value = entry[key]
    if single:
        names: Iterable[tuple[tuple[PathPart, ...], object]] = [((*path, key), value)]
    elif isinstance(value, list):
        names = [((*path, key, i), name) for i, name in enumerate(value)]
    else:
        return [Problem((*path, key), f"'{key}' must be a list of names")]
    kind = key.rstrip("s") if key != "target" else "handler"
    return [
        Problem(at, f"unknown {kind} {name!r}", did_you_mean(str(name), known))
        for at, name in names
        if not isinstance(name, str) or name not in known
    ]


def ini_problems(parser: configparser.RawConfigParser) -> list[Problem]:
    """The mistakes of a fileConfig INI file; paths are ``(section,)`` or ``(section, option)``."""
    found: list[Problem] = []
    names: dict[str, list[str]] = {}
    for section in INI_SECTIONS:
        if not parser.has_section(section):
            hint = "fileConfig needs [loggers], [handlers] and [formatters], each with keys ="
            found.append(Problem((), f"section [{section}] is missing", hint))
        elif not parser.has_option(section, "keys"):
            found.append(Problem((section,), f"[{section}] has no 'keys'", "list its names"))
        names[section] = _names(parser, section, "keys") if parser.has_section(section) else []
    if parser.has_option("loggers", "keys") and "root" not in names["loggers"]:
        found.append(Problem(("loggers", "keys"), "'root' is not listed", "fileConfig needs it"))
    for kind, listed in (("logger", names["loggers"]), ("handler", names["handlers"])):
        for name in listed:
            section = f"{kind}_{name}"
            if not parser.has_section(section):
                found.append(Problem((f"{kind}s", "keys"), f"[{section}] is missing"))
                continue
            if kind == "logger" and name != "root" and not parser.has_option(section, "qualname"):
                hint = "give the logger's name, e.g. qualname = mqwire"
                found.append(Problem((section,), f"[{section}] has no 'qualname'", hint))
            if kind == "handler" and not parser.has_option(section, "class"):
                found.append(Problem((section,), f"[{section}] has no 'class'"))
            if parser.has_option(section, "level"):
                level = parser.get(section, "level", raw=True)
                found += [p for p in [level_problem(level, (section, "level"))] if p]
            if kind == "logger":
                found += _ini_refs(parser, section, "handlers", names["handlers"])
            else:
                found += _ini_refs(parser, section, "formatter", names["formatters"])
    for name in names["formatters"]:
        if not parser.has_section(f"formatter_{name}"):
            found.append(Problem(("formatters", "keys"), f"[formatter_{name}] is missing"))
    return found


def _ini_refs(
    parser: configparser.RawConfigParser, section: str, option: str, known: list[str]
) -> list[Problem]:
    """Each name ``option`` of ``section`` gives that the ``[handlers]``/``[formatters]``
    keys do not list."""
    listed = "handlers" if option == "handlers" else "formatters"
    return [
        Problem(
            (section, option),
            f"unknown {listed[:-1]} {ref!r}: not in [{listed}] keys",
            did_you_mean(ref, known),
        )
        for ref in _names(parser, section, option)
        if ref not in known
    ]


def _names(parser: configparser.RawConfigParser, section: str, option: str) -> list[str]:
    text = parser.get(section, option, raw=True, fallback="")
    return [name.strip() for name in text.split(",") if name.strip()]
