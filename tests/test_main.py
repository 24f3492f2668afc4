"""``python -m mqwire``: every command under one name, through a real subprocess."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

EXAMPLE = Path(__file__).parent.parent / "examples" / "ticketing"


def mqwire(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mqwire", *args],
        cwd=EXAMPLE,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_python_dash_m_mqwire_runs_every_command() -> None:
    version = metadata.version("mqwire")
    assert mqwire("--version").stdout == f"mqwire {version}\n"
    top = mqwire("--help").stdout
    for command in ("compile", "diff", "graph", "explain", "export", "serve", "ctl"):
        assert f"    {command} " in top
    assert mqwire("compile", "topology.yaml", "--check").returncode == 0
    assert mqwire("topology.yaml", "--check").returncode == 0
    explained = mqwire("explain", "topology.yaml", "lots.42.mail")
    assert explained.returncode == 0 and "lots.mail" in explained.stdout
    assert mqwire("serve", "--version").stdout == f"mqwire serve {version}\n"
    assert "usage: python -m mqwire serve " in mqwire("serve", "--help").stdout
    assert "usage: python -m mqwire ctl " in mqwire("ctl", "--help").stdout
    typo = mqwire("srve", "compiled.ini")
    assert typo.returncode == 2 and "did you mean 'serve'?" in typo.stderr
    missing = mqwire("serve", "nope.ini")  # mserve itself answers: a config error, exit 2
    assert missing.returncode == 2 and "mserve: error: cannot read" in missing.stderr
