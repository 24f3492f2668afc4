"""The ticketing example and golden-file helpers shared by the review-tool tests."""

from __future__ import annotations

import os
import subprocess
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


def git(*args: str, cwd: Path) -> None:
    """Run git in ``cwd`` with a throw-away identity (for commits in temporary repositories)."""
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        timeout=60,
    )
