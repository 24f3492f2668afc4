"""The ticketing example and golden-file helpers shared by the review-tool tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from mqwire.topology import load_topology_file
from mqwire.topology.model import Topology

EXAMPLE = Path(__file__).parent.parent.parent / "examples" / "ticketing"
CASES = Path(__file__).parent / "tool_cases"
UPDATE = os.environ.get("MQWIRE_UPDATE_GOLDEN") == "1"


def load_example() -> Topology:
    """The example with its ``scan:`` tasks (the example folder is importable meanwhile)."""
    sys.path.insert(0, str(EXAMPLE))
    try:
        return load_topology_file(EXAMPLE / "topology.yaml")
    finally:
        sys.path.remove(str(EXAMPLE))


def check_golden(name: str, text: str) -> None:
    """``text`` equals ``tool_cases/NAME``; with MQWIRE_UPDATE_GOLDEN=1 rewrite it first."""
    path = CASES / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")
