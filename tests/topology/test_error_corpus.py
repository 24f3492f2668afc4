"""Error corpus: each errors/NAME.yaml must fail with exactly the lines in errors/NAME.txt.

Regenerate after an intended change with ``MQWIRE_UPDATE_GOLDEN=1`` and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fake_app import FakeApp

from mqwire.topology import TopologyErrors, load_topology
from mqwire.topology.errors import Location
from mqwire.topology.scan import ScannedTask, ScanResult
from mqwire.topology.task_imports import ModuleImporter

CORPUS = Path(__file__).parent / "errors"
UPDATE = os.environ.get("MQWIRE_UPDATE_GOLDEN") == "1"


def fake_scanner(packages: object) -> ScanResult:
    """Stands in for importing ``scan:`` packages: one marked function, at a fixed place."""
    return ScanResult(
        tasks=(
            ScannedTask(
                name="release_cart",
                task="app.tasks:release_cart",
                queue="cart",
                location=Location("app/tasks.py", 12),
            ),
        )
    )


def read_file(name: str) -> str:
    return (CORPUS / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(p.stem for p in CORPUS.glob("*.yaml")))
def test_bad_topology_gives_expected_errors(name: str) -> None:
    text = (CORPUS / f"{name}.yaml").read_text(encoding="utf-8")
    importer = ModuleImporter(FakeApp().import_module)  # task paths resolve in fake_app.py
    with pytest.raises(TopologyErrors) as caught:
        load_topology(
            text,
            source_name=f"{name}.yaml",
            scanner=fake_scanner,
            read_file=read_file,
            importer=importer,
        )
    actual = caught.value.render() + "\n"
    expected_file = CORPUS / f"{name}.txt"
    if UPDATE:
        expected_file.write_text(actual, encoding="utf-8")
    assert actual == expected_file.read_text(encoding="utf-8")
