"""Golden cases: each folder in cases/ holds a topology and the exact files it must compile to.

Regenerate after an intended change with ``MQWIRE_UPDATE_GOLDEN=1 pytest tests/compiler`` and
review the diff like any other code change.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from mqwire.compiler import CompileOptions, compile_topology
from mqwire.topology import load_topology_file, read_compiled_ini

CASES = Path(__file__).parent / "cases"
UPDATE = os.environ.get("MQWIRE_UPDATE_GOLDEN") == "1"


def compile_case(case: Path) -> tuple[str, str]:
    topology = load_topology_file(case / "topology.yaml", scanner=None)
    options = CompileOptions(source="topology.yaml", source_sha256="0" * 64)
    output = compile_topology(topology, options)
    return output.ini, output.registry_py


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if p.is_dir()))
def test_case_compiles_to_expected_files(case: str) -> None:
    folder = CASES / case
    ini, registry = compile_case(folder)
    if UPDATE:
        (folder / "expected.ini").write_text(ini, encoding="utf-8")
        (folder / "expected_registry.py").write_text(registry, encoding="utf-8")
    assert ini == (folder / "expected.ini").read_text(encoding="utf-8")
    assert registry == (folder / "expected_registry.py").read_text(encoding="utf-8")


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if p.is_dir()))
def test_case_reads_back_and_parses(case: str) -> None:
    folder = CASES / case
    topology = load_topology_file(folder / "topology.yaml", scanner=None)
    ini, registry = compile_case(folder)
    assert read_compiled_ini(ini).topology == topology
    ast.parse(registry)
