"""Every ``mq-compile`` example in --help runs, as written, in a copy of examples/ticketing."""

from __future__ import annotations

import io
import re
import shlex
import shutil
from pathlib import Path

import pytest
from tool_example import EXAMPLE, git

from mqwire.compiler import cli
from mqwire.testing import skip_unless_ci


def help_examples() -> list[str]:
    """The example command lines of the top --help and of each command's --help."""
    texts = [cli.EXAMPLES.format(prog="mq-compile")]
    texts += [command.examples for command in cli.COMMANDS]
    lines = [line.strip() for text in texts for line in text.splitlines()]
    # An example, then two or more spaces, then what it does; "COMMAND" lines are placeholders.
    examples = [re.split(r"\s{2,}", line)[0] for line in lines if line.startswith("mq-compile ")]
    return [line for line in examples if "COMMAND" not in line.split()]


@pytest.fixture
def ticketing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the example, committed to git (for ``diff --against HEAD``), old.yaml beside."""
    folder = tmp_path / "ticketing"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(folder / "topology.yaml", folder / "old.yaml")
    if shutil.which("git") is not None:
        for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "example"]):
            git(*args, cwd=folder)
    monkeypatch.chdir(folder)
    return folder


def test_there_are_examples_for_every_command() -> None:
    lines = help_examples()
    for command in cli.COMMANDS:
        if command.name != "compile":
            assert any(line.startswith(f"mq-compile {command.name} ") for line in lines)
    assert "mq-compile topology.yaml --check" in lines


@pytest.mark.parametrize("line", help_examples())
def test_help_example_runs_against_the_ticketing_example(ticketing: Path, line: str) -> None:
    argv = shlex.split(line)[1:]
    if ">" in argv:  # a shell redirection: the output is what we capture
        argv = argv[: argv.index(">")]
    if "--against" in argv and shutil.which("git") is None:
        skip_unless_ci("git is not installed")
    if any(arg.endswith((".svg", ".png")) for arg in argv) and shutil.which("dot") is None:
        skip_unless_ci("Graphviz's dot is not installed")
    out, err = io.StringIO(), io.StringIO()
    assert cli.run(argv, stdout=out, stderr=err) == 0, err.getvalue()
