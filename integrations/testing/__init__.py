"""Testing applications that use mqwire: the pytest plugin's fixtures and what they are built on.

pytest imports this package in every run (the plugin's entry point), so names load on first
use. See docs/testing.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mqwire.topology._lazy import lazy_exports

if TYPE_CHECKING:
    from .broker import TestBroker, import_or_skip, skip_unless_ci, throwaway_vhost
    from .compiling import compiled_ini
    from .polling import wait_until
    from .worker import WorkerProcess

_EXPORTS = {
    "TestBroker": ".broker",
    "WorkerProcess": ".worker",
    "compiled_ini": ".compiling",
    "import_or_skip": ".broker",
    "skip_unless_ci": ".broker",
    "throwaway_vhost": ".broker",
    "wait_until": ".polling",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = [
    "TestBroker",
    "WorkerProcess",
    "compiled_ini",
    "import_or_skip",
    "skip_unless_ci",
    "throwaway_vhost",
    "wait_until",
]
