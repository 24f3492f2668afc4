"""Resolve each ``tasks:`` entry's ``task:`` and ``root_factory:``, and each ``middleware:``
factory, at compile time.

A path that does not import would otherwise compile cleanly and fail only when ``mserve``
starts; resolving it here turns that into a located error at review time. Importing runs the
application's code, so the import is injected (``importer=``), as ``scanner=`` is for
``scan:``: the CLI passes a :class:`ModuleImporter`, tests pass fakes, ``--no-import`` None.
"""

from __future__ import annotations

import difflib
import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from ._yaml import ParsedYaml, locate
from .check_state import entries
from .errors import PathPart, TopologyError
from .text_checks import import_path_problem

#: ``dotted.module:attribute.path``, as the schema's ``import_path`` pattern (ASCII only).
IMPORT_PATH = re.compile(
    r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
    r":[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
)
#: The keys of a ``tasks:`` entry that name something to import.
IMPORT_KEYS = ("task", "root_factory")
#: For a module that is not there: where Python looks, and the way out.
INSTALL_HINT = (
    "install the application or put it on PYTHONPATH, or pass --no-import to skip this check"
)
#: For a module whose own code failed: importing runs it.
RUN_HINT = (
    "importing runs the module's code: fix it or install what it needs, "
    "or pass --no-import to skip this check"
)
#: For something that is there but cannot be called.
CALL_HINT = "task: names a function called as task(context, request), root_factory: a callable"
#: The same, for a ``middleware:`` path.
MIDDLEWARE_CALL_HINT = "middleware: names a class, or a callable returning a middleware"
#: How much of an exception's first line a message keeps.
MAX_REASON = 200


@dataclass(frozen=True)
class ImportProblem:
    """Why an import path gives no callable: what failed, and how to fix it."""

    message: str
    hint: str | None = None


#: Resolves one ``module:attribute`` path: None when it names a callable.
Importer = Callable[[str], ImportProblem | None]


class ModuleImporter:
    """The real importer; each module is imported at most once per instance.

    Python does not cache a module whose import failed, so without this memo two paths into
    it would run its code, and its side effects, twice.
    """

    def __init__(
        self, import_module: Callable[[str], ModuleType] = importlib.import_module
    ) -> None:
        self._import_module = import_module
        self._modules: dict[str, ModuleType | ImportProblem] = {}

    def __call__(self, path: str) -> ImportProblem | None:
        module_name, _, attribute = path.partition(":")
        if module_name not in self._modules:
            self._modules[module_name] = self._import(module_name)
        target: Any = self._modules[module_name]
        if isinstance(target, ImportProblem):
            return target
        owner = f"module {module_name!r}"
        done: list[str] = []
        for part in attribute.split("."):
            try:
                found = hasattr(target, part)
                if found:
                    target = getattr(target, part)
            except Exception as exc:  # a property or module __getattr__ of the application
                return ImportProblem(f"getting {part!r} from {owner} raised {_reason(exc)}")
            if not found:
                return ImportProblem(f"{owner} has no attribute {part!r}", _close(part, target))
            done.append(part)
            owner = repr(f"{module_name}:{'.'.join(done)}")
        if not callable(target):
            return ImportProblem(f"it is {_kind(target)}, which cannot be called", CALL_HINT)
        return None

    def _import(self, name: str) -> ModuleType | ImportProblem:
        try:
            return self._import_module(name)
        except ModuleNotFoundError as exc:
            missing = exc.name
            if missing is not None and (missing == name or name.startswith(missing + ".")):
                detail = "" if missing == name else f" (there is no {missing!r})"
                return ImportProblem(f"module {name!r} not found{detail}", INSTALL_HINT)
            return ImportProblem(f"importing {name!r} raised {_reason(exc)}", RUN_HINT)
        except (Exception, SystemExit) as exc:  # the application's failure, not ours to crash on
            return ImportProblem(f"importing {name!r} raised {_reason(exc)}", RUN_HINT)


def import_errors(parsed: ParsedYaml, importer: Importer) -> list[TopologyError]:
    """A located error for each well-formed ``task:``, ``root_factory:`` or ``middleware:``
    path that fails to resolve.

    Malformed paths are skipped: the schema and text checks report them already. Tasks found
    by ``scan:`` are not resolved again: the scan imported them to find them. A middleware
    factory is only resolved, not called: calling it may start a client (Sentry's, say).
    """
    wanted: list[tuple[tuple[PathPart, ...], str, object]] = [
        (("tasks", name, key), key, task.get(key))
        for name, task in entries(parsed.data, "tasks").items()
        for key in IMPORT_KEYS
    ]
    factories = parsed.data.get("middleware") if isinstance(parsed.data, dict) else None
    if isinstance(factories, list):
        wanted += [(("middleware", i), "middleware", p) for i, p in enumerate(factories)]
    resolved: dict[str, ImportProblem | None] = {}
    errors: list[TopologyError] = []
    for where, key, path in wanted:
        if not isinstance(path, str) or not _well_formed(path):
            continue
        if path not in resolved:
            resolved[path] = importer(path)
        problem = resolved[path]
        if problem is not None:
            message = f"{key} {path!r}: {problem.message}"
            hint = problem.hint
            if key == "middleware" and hint == CALL_HINT:
                hint = MIDDLEWARE_CALL_HINT
            errors.append(TopologyError(locate(parsed, where), message, where, hint))
    return errors


def _well_formed(path: str) -> bool:
    return IMPORT_PATH.fullmatch(path) is not None and import_path_problem(path) is None


def _reason(exc: BaseException) -> str:
    """``Type: first line of the message``, shortened: enough to recognise the failure."""
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 3] + "..."


def _kind(value: Any) -> str:
    name = type(value).__name__
    return f"an {name}" if name[:1].lower() in "aeiou" else f"a {name}"


def _close(word: str, owner: Any) -> str | None:
    """``did you mean 'x'?`` among the owner's public names, when one is close."""
    try:
        names = [n for n in dir(owner) if not n.startswith("_")]
    except Exception:  # a broken __dir__ only costs the suggestion
        return None
    close = difflib.get_close_matches(word, names, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None
