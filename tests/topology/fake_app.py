"""An application that exists only in memory, for checking task paths without importing files.

``FakeApp.import_module`` stands in for ``importlib.import_module`` under the real
``ModuleImporter``, so tests see its messages while no application code runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Any


def _task(context: object, request: object) -> None: ...


class Resource:
    """A root factory: called with the request."""

    def __init__(self, request: object) -> None: ...


class Handler:
    handle = staticmethod(_task)


#: Module -> its attributes; what the error corpus and the loader tests name.
MODULES: Mapping[str, Mapping[str, Any]] = {
    "shop": {},
    "shop.tasks": {
        "release_cart": _task,
        "also_cart": _task,
        "orphan": _task,
        "lost": _task,
        "SETTINGS": {"retries": 3},
        "Handler": Handler,
    },
    "shop.resources": {"CartResource": Resource},
    "app": {},
    "app.tasks": {"run": _task, "other": _task},
}

#: Modules whose import fails inside their own code: module -> the exception it raises.
BROKEN: Mapping[str, BaseException] = {
    "shop.billing": RuntimeError("STRIPE_KEY is not set\n(read at import time)"),
    "shop.mail": ModuleNotFoundError("No module named 'smtplib_ng'", name="smtplib_ng"),
    "shop.exits": SystemExit(3),
}


class FakeApp:
    """Imports from ``MODULES`` and ``BROKEN``, counting every attempt per module."""

    def __init__(self) -> None:
        self.imported: dict[str, int] = {}

    def import_module(self, name: str) -> ModuleType:
        self.imported[name] = self.imported.get(name, 0) + 1
        if name in BROKEN:
            raise BROKEN[name]
        if name not in MODULES:
            parts = name.split(".")
            known = [".".join(parts[:i]) for i in range(1, len(parts)) if ".".join(parts[:i])]
            missing = next((p for p in known if p not in MODULES), name)
            raise ModuleNotFoundError(f"No module named {missing!r}", name=missing)
        module = ModuleType(name)
        for attribute, value in MODULES[name].items():
            setattr(module, attribute, value)
        return module
