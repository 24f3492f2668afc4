"""What the semantic checks share: the parsed topology, its sections, and the errors found.

A base of its own so that check modules (``task_checks``) work on it without importing
``semantics``, which runs them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ._yaml import ParsedYaml, locate
from .errors import Location, PathPart, TopologyError, did_you_mean
from .message_schema import FileReader
from .scan import ScanResult


def entries(data: Any, key: str) -> dict[str, dict[str, Any]]:
    """The well-formed entries of a top-level section (name -> mapping), ignoring the rest."""
    section = data.get(key) if isinstance(data, Mapping) else None
    if not isinstance(section, Mapping):
        return {}
    return {k: v for k, v in section.items() if isinstance(k, str) and isinstance(v, dict)}


class CheckState:
    """One topology under check: its sections by name, and every problem reported so far."""

    def __init__(
        self,
        parsed: ParsedYaml,
        source: str,
        scan: ScanResult,
        allow_literal_password: bool,
        read_file: FileReader | None = None,
        *,
        allow_unverified_tls: bool = False,
    ) -> None:
        self.parsed, self.source, self.scan, self.read_file = parsed, source, scan, read_file
        self.allow_literal_password = allow_literal_password
        self.allow_unverified_tls = allow_unverified_tls
        self.errors: list[TopologyError] = []
        data = parsed.data
        self.connections = entries(data, "connections")
        self.publisher_consumers = entries(data, "publisher_consumers")
        self.queues = entries(data, "queues")
        self.tasks = entries(data, "tasks")
        self.schedules = entries(data, "schedules")

    def error(
        self,
        path: tuple[PathPart, ...],
        message: str,
        *,
        key: bool = False,
        hint: str | None = None,
        related: Iterable[Location] = (),
    ) -> None:
        location = locate(self.parsed, path, key=key)
        self.errors.append(TopologyError(location, message, path, hint, tuple(related)))

    def reference(self, path: tuple[PathPart, ...], kind: str, name: Any, known: Any) -> bool:
        """Report ``name`` unless it is one of ``known``; True when it is."""
        if not isinstance(name, str) or name in known:
            return isinstance(name, str)
        self.error(path, f"unknown {kind} {name!r}", hint=did_you_mean(name, known))
        return False
