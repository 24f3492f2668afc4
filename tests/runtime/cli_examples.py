"""The examples in ``mserve`` and ``mqctl`` --help, and the ticketing topology they name."""

from __future__ import annotations

import argparse
import re
import shlex
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import pytest

from mqwire.topology import load_topology_file
from mqwire.topology.model import Topology

TICKETING = Path(__file__).parent.parent.parent / "examples" / "ticketing"


def help_examples(parser: argparse.ArgumentParser) -> list[list[str]]:
    """Each example line of ``parser``'s epilog as argv (the program name dropped)."""
    lines = [line.strip() for line in (parser.epilog or "").splitlines()]
    # An example, then two or more spaces, then what it does.
    commands = [re.split(r"\s{2,}", line)[0] for line in lines if line.startswith(parser.prog)]
    return [shlex.split(command)[1:] for command in commands]


def ticketing() -> Topology:
    """The example's topology as written (its ``scan:`` packages are not imported)."""
    return load_topology_file(TICKETING / "topology.yaml", scanner=None)


def check_version_and_prog(
    main: Callable[..., int], name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``NAME --version`` names the installed mqwire; under another prog, help examples follow."""
    with pytest.raises(SystemExit) as raised:
        main(["--version"])
    assert raised.value.code == 0
    assert capsys.readouterr().out == f"{name} (mqwire) {metadata.version('mqwire')}\n"
    with pytest.raises(SystemExit):
        main(["--help"], prog="python -m mqwire x")
    assert "\n  python -m mqwire x compiled.ini " in capsys.readouterr().out
