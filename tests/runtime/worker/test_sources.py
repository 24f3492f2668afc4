"""mserve tells a compiled INI from a PasteDeploy file by the file's sections, without a flag."""

from __future__ import annotations

from pathlib import Path

import pytest

from mqwire.runtime.worker.sources import is_paste_deploy

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("config", "paste"),
    [
        ("examples/ticketing/compiled.ini", False),
        ("examples/pyramid_app/development.ini", True),
        ("examples/pyramid_app/development.ini#main", True),
        ("tests/integrations/pyramid/original_addon.ini", True),
        ("no/such/file.ini", False),  # load() reports it
    ],
)
def test_the_kind_of_file(config: str, paste: bool) -> None:
    assert is_paste_deploy(str(ROOT / config)) is paste


def test_a_compiled_ini_with_a_fragment_is_still_compiled(tmp_path: Path) -> None:
    ini = tmp_path / "compiled.ini"
    ini.write_text("[mqwire]\nversion = 1\n[settings]\n")

    assert is_paste_deploy(f"{ini}#main") is False
    assert is_paste_deploy(str(ini)) is False


def test_a_pipeline_or_composite_is_paste_deploy(tmp_path: Path) -> None:
    ini = tmp_path / "production.ini"
    ini.write_text("[pipeline:main]\npipeline = app\n\n[app:app]\nuse = call:x:main\n")

    assert is_paste_deploy(str(ini)) is True
