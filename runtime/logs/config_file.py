"""``--log-config FILE``: a ``logging.config`` file, read, checked, then applied as it is.

The extension picks the format: ``.ini``, ``.cfg`` or ``.conf`` for ``fileConfig`` (with
``%(here)s`` and ``%(__file__)s`` as ``pserve`` gives a PasteDeploy file's ``[loggers]``, so
such a file can later serve as well), ``.json``, ``.yaml`` or ``.yml`` for ``dictConfig``.
The file wins entirely: none of the command's own defaults (the text format, pika capped at
WARNING) is added. One stdlib default is turned: loggers made before the file is applied
(mqwire's own, created when the command was imported) stay enabled, unless a dictConfig says
``disable_existing_loggers: true`` (fileConfig cannot say it), so a file that configures only
``root`` still shows mqwire's lines. Mistakes come back as one ``LogConfigError``, each at
its place in the file, never as a traceback.
"""

from __future__ import annotations

import configparser
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from mqwire.topology._yaml import ParsedYaml, locate, parse_yaml
from mqwire.topology.errors import Location, PathPart, TopologyError, TopologyErrors

from ..errors import ConfigurationError, describe_error
from .config_check import Problem, dict_problems, ini_problems

#: The format of each extension (compared in lower case).
SUFFIXES = {
    ".ini": "ini", ".cfg": "ini", ".conf": "ini", ".json": "json", ".yaml": "yaml", ".yml": "yaml",
}  # fmt: skip

#: dictConfig's message naming the entry it could not set up (its cause says why).
_REFUSED = re.compile(r"Unable to (?:configure|add|set) (formatter|filter|handler|logger) '(.*)'")
_HEADER = re.compile(r"\[(?P<section>[^\]]+)\]")
_OPTION = re.compile(r"(?P<option>[^=:\s;#\[][^=:]*?)\s*[=:]")

Locator = Callable[[tuple[PathPart, ...], bool], Location]


class LogConfigError(ConfigurationError):
    """The ``--log-config`` file cannot be read, has mistakes, or the stdlib refused it;
    every problem found, one line each, sorted by place."""

    def __init__(self, problems: Iterable[TopologyError]) -> None:
        self.problems = tuple(sorted(problems, key=TopologyError.sort_key))
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class LogConfig:
    """A checked file, ready to apply: a dictConfig mapping or a fileConfig parser."""

    source: str
    settings: dict[str, Any] | configparser.ConfigParser
    locate: Locator

    def apply(self) -> None:
        """Configure logging from the file.

        Raises:
            LogConfigError: the stdlib refused it (a class that does not import, a log file
                that cannot be opened), located at the entry it names when it names one.
        """
        import logging.config  # only for a command given --log-config

        try:
            if isinstance(self.settings, configparser.ConfigParser):
                logging.config.fileConfig(self.settings, disable_existing_loggers=False)
            else:
                logging.config.dictConfig(self.settings)
        except Exception as exc:  # the file's own content failed: say so, no traceback
            raise LogConfigError([self._refused(exc)]) from None

    def _refused(self, exc: Exception) -> TopologyError:
        """Where and why: dictConfig names the entry it could not set up, its cause says why."""
        text = str(exc)
        found = _REFUSED.match(text)
        if text == "Unable to configure root logger":
            path: tuple[PathPart, ...] = ("root",)
            what = "the root logger"
        elif found:
            path = (f"{found[1]}s", found[2])
            what = f"{found[1]} {found[2]!r}"
        else:
            why = _why(exc)
            return TopologyError(Location(self.source), f"logging could not apply it: {why}")
        why = _why(exc.__cause__ or exc)
        return TopologyError(self.locate(path, True), f"cannot set up {what}: {why}")


def read_log_config(path: str | Path) -> LogConfig:
    """Read and check ``path``; the configuration, not yet applied.

    Raises:
        LogConfigError: an unknown extension, an unreadable or malformed file, or mistakes
            ``config_check`` finds (all of them).
    """
    source, file = str(path), Path(path)
    kind = SUFFIXES.get(file.suffix.lower())
    if kind is None:
        hint = "name it .ini/.cfg/.conf (fileConfig), .json, .yaml or .yml (dictConfig)"
        _fail(Location(source), f"unknown log configuration format {file.suffix!r}", hint)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        _fail(Location(source), f"cannot read it: {exc.strerror or exc}")
    except UnicodeDecodeError as exc:
        _fail(Location(source), f"not UTF-8 text: {exc.reason} at byte {exc.start}")
    if kind == "ini":
        return _ini(text, source, file)
    return _mapping(text, source, kind)


def _fail(location: Location, message: str, hint: str | None = None) -> NoReturn:
    raise LogConfigError([TopologyError(location, message, hint=hint)])


def _located(problems: list[Problem], where: Locator) -> LogConfigError:
    return LogConfigError(
        TopologyError(where(p.path, p.key), p.message, path=None, hint=p.hint) for p in problems
    )


def _mapping(text: str, source: str, kind: str) -> LogConfig:
    parsed: ParsedYaml | None
    if kind == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            _fail(Location(source, exc.lineno, exc.colno), f"not JSON: {exc.msg}")
        except RecursionError:
            _fail(Location(source), "not JSON this program can read: nested too deeply")
        try:  # JSON is YAML: its reader knows where each key is, for the messages
            parsed = parse_yaml(text, source)
        except TopologyErrors:
            parsed = None
    else:
        try:
            parsed = parse_yaml(text, source)
        except TopologyErrors as exc:
            raise LogConfigError(exc.errors) from None
        data = parsed.data

    def where(path: tuple[PathPart, ...], key: bool) -> Location:
        if parsed is None:
            return Location(source)
        try:
            return locate(parsed, path, key=key)
        except LookupError:
            return Location(source, 1, 1)

    problems = dict_problems(data)
    if problems:
        raise _located(problems, where)
    assert isinstance(data, dict)  # dict_problems says so otherwise
    settings = dict(data)
    settings.setdefault("disable_existing_loggers", False)
    return LogConfig(source, settings, where)


def _ini(text: str, source: str, file: Path) -> LogConfig:
    absolute = file.absolute()
    parser = configparser.ConfigParser({"here": str(absolute.parent), "__file__": str(absolute)})
    try:
        parser.read_string(text, source=source)
    except configparser.Error as exc:
        raise LogConfigError(_ini_syntax(exc, source)) from None
    lines = ini_lines(text)

    def where(path: tuple[PathPart, ...], key: bool) -> Location:
        for depth in range(len(path), 0, -1):
            line = lines.get(tuple(str(p) for p in path[:depth]))
            if line:
                return Location(source, line)
        return Location(source)

    problems = ini_problems(parser)
    if problems:
        raise _located(problems, where)
    return LogConfig(source, parser, where)


def _ini_syntax(exc: configparser.Error, source: str) -> list[TopologyError]:
    """What configparser refused, at its line."""
    if isinstance(exc, configparser.MissingSectionHeaderError):
        return [TopologyError(Location(source, exc.lineno), "text before the first [section]")]
    if isinstance(exc, configparser.ParsingError):
        return [
            TopologyError(Location(source, n), f"cannot read the line {line.strip()!r}")
            for n, line in exc.errors
        ]
    if isinstance(exc, configparser.DuplicateOptionError):
        message = f"{exc.option!r} is given twice in [{exc.section}]"
        return [TopologyError(Location(source, exc.lineno or 0), message)]
    if isinstance(exc, configparser.DuplicateSectionError):
        message = f"section [{exc.section}] is given twice"
        return [TopologyError(Location(source, exc.lineno or 0), message)]
    return [TopologyError(Location(source), str(exc).splitlines()[0])]


def ini_lines(text: str) -> dict[tuple[str, ...], int]:
    """The line of each ``(section,)`` header and ``(section, option)`` (option in lower
    case, as configparser keeps it): the first one, where a name repeats."""
    lines: dict[tuple[str, ...], int] = {}
    section = None
    for number, line in enumerate(text.splitlines(), 1):
        header = _HEADER.fullmatch(line.strip())
        if header:
            section = header["section"]
            lines.setdefault((section,), number)
        elif section is not None and (option := _OPTION.match(line)):
            lines.setdefault((section, option["option"].strip().lower()), number)
    return lines


def _why(exc: BaseException) -> str:
    """The cause in one line; a ValueError's own text says it without its class name."""
    if type(exc) is ValueError:
        return str(exc)
    return describe_error(exc)
