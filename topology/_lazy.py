"""Package exports imported on first use (PEP 562), so a worker loads only what it runs.

``mserve`` reaches ``mqwire.topology.ini`` and ``mqwire.runtime.worker``; importing those used
to run both packages' ``__init__``, which pulled in the YAML loader, jsonschema and every
publisher. With lazy exports, ``from mqwire.runtime import load`` still works, and imports
only what ``load`` needs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, whose ``exports`` map name -> module.

    Module paths are relative to ``package`` (``".loader"``).
    """

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        importlib.import_module(package).__dict__[name] = value  # looked up once
        return value

    def __dir__() -> list[str]:
        return sorted(exports)

    return __getattr__, __dir__
