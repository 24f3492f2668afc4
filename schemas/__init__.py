"""JSON Schemas shipped with mqwire, read as package data."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["TOPOLOGY_SCHEMA_FILE", "load_schema"]

#: The topology file schema (draft 2020-12); point editors at it for completion.
TOPOLOGY_SCHEMA_FILE = "topology.schema.json"


@cache
def load_schema(name: str = TOPOLOGY_SCHEMA_FILE) -> dict[str, Any]:
    """The parsed schema; cached because it never changes while a process runs."""
    text = resources.files(__name__).joinpath(name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema
