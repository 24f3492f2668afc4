"""``mq-compile diff`` end to end, through a real subprocess (and a real git repository)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tool_example import git

CASES = Path(__file__).parent / "diff_cases"


def mq_compile(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mqwire.compiler.cli", "diff", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def case_dir(name: str) -> Path:
    return CASES / name


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("additive", 0),
        ("routing", 0),
        ("other", 0),
        ("identical", 0),
        ("incompatible", 5),
        ("destructive", 5),
        ("mixed", 5),
    ],
)
def test_exit_code_per_class(case: str, code: int) -> None:
    result = mq_compile("old.yaml", "new.yaml", cwd=case_dir(case))
    assert result.returncode == code, result.stderr
    assert result.stdout == (case_dir(case) / "expected.md").read_text(encoding="utf-8")


def test_blocked_changes_are_named_on_stderr() -> None:
    result = mq_compile("old.yaml", "new.yaml", cwd=case_dir("mixed"))
    assert result.stderr.splitlines() == [
        "blocked: 1 broker-incompatible change (pass --allow-incompatible)",
        "blocked: 1 destructive change (pass --allow-destructive)",
    ]


def test_allow_flags_each_unblock_their_class() -> None:
    folder = case_dir("mixed")
    only_incompatible = mq_compile("old.yaml", "new.yaml", "--allow-incompatible", cwd=folder)
    assert only_incompatible.returncode == 5
    assert "destructive" in only_incompatible.stderr
    only_destructive = mq_compile("old.yaml", "new.yaml", "--allow-destructive", cwd=folder)
    assert only_destructive.returncode == 5
    both = mq_compile(
        "old.yaml", "new.yaml", "--allow-incompatible", "--allow-destructive", cwd=folder
    )
    assert (both.returncode, both.stderr) == (0, "")
    allowed = mq_compile(
        "old.yaml", "new.yaml", "--allow-incompatible", cwd=case_dir("incompatible")
    )
    assert allowed.returncode == 0


def test_format_text() -> None:
    result = mq_compile("old.yaml", "new.yaml", "--format", "text", cwd=case_dir("routing"))
    assert result.returncode == 0
    assert result.stdout.splitlines()[:4] == [
        "topology changes: old.yaml -> new.yaml",
        "0 broker-incompatible, 0 destructive, 1 routing, 0 schedule, 1 additive, 0 other",
        "",
        "routing:",
    ]
    assert "    lots: lots.audit -> lots.audit, lots.mail" in result.stdout


def test_invalid_topology_is_exit_2_with_located_errors(tmp_path: Path) -> None:
    shutil.copy(case_dir("mixed") / "old.yaml", tmp_path / "old.yaml")
    text = (case_dir("mixed") / "new.yaml").read_text(encoding="utf-8")
    (tmp_path / "new.yaml").write_text(text.replace("prefetch: 20", "prefetch: ten"))
    result = mq_compile("old.yaml", "new.yaml", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "new.yaml:24:15: error: 'ten' is not of type 'integer' (at $.queues.cart.prefetch)",
        "1 error; nothing compared",
    ]


def test_missing_file_and_wrong_arguments_are_exit_2(tmp_path: Path) -> None:
    missing = mq_compile("old.yaml", "new.yaml", cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: old.yaml: cannot read the topology")
    one_file = mq_compile("new.yaml", cwd=tmp_path)
    assert one_file.returncode == 2
    assert "give two files" in one_file.stderr


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    git("init", "-q", cwd=tmp_path)
    (tmp_path / "deploy").mkdir()
    shutil.copy(case_dir("mixed") / "old.yaml", tmp_path / "deploy" / "topology.yaml")
    git("add", "deploy/topology.yaml", cwd=tmp_path)
    git("commit", "-q", "-m", "topology", cwd=tmp_path)
    shutil.copy(case_dir("mixed") / "new.yaml", tmp_path / "deploy" / "topology.yaml")
    return tmp_path


def test_against_a_git_revision(repo: Path) -> None:
    result = mq_compile("deploy/topology.yaml", "--against", "HEAD", cwd=repo)
    assert result.returncode == 5, result.stderr
    expected = (case_dir("mixed") / "expected.md").read_text(encoding="utf-8")
    title = "## Topology changes: `deploy/topology.yaml@HEAD` -> `deploy/topology.yaml`"
    assert result.stdout == expected.replace(expected.splitlines()[0], title)


def test_against_works_from_inside_the_file_folder(repo: Path) -> None:
    result = mq_compile(
        "topology.yaml", "--against", "HEAD", "--format", "text", cwd=repo / "deploy"
    )
    assert result.returncode == 5
    assert result.stdout.startswith("topology changes: topology.yaml@HEAD -> topology.yaml\n")


def test_against_a_missing_revision_is_exit_2(repo: Path) -> None:
    result = mq_compile("deploy/topology.yaml", "--against", "no-such-rev", cwd=repo)
    assert result.returncode == 2
    assert result.stderr.startswith("error: deploy/topology.yaml at revision 'no-such-rev': fatal:")


def test_against_outside_a_repository_is_exit_2(tmp_path: Path) -> None:
    shutil.copy(case_dir("mixed") / "new.yaml", tmp_path / "topology.yaml")
    result = mq_compile("topology.yaml", "--against", "HEAD", cwd=tmp_path)
    assert result.returncode == 2
    assert "not a git repository" in result.stderr


def test_against_without_git_is_exit_2(tmp_path: Path) -> None:
    shutil.copy(case_dir("mixed") / "new.yaml", tmp_path / "topology.yaml")
    env_path = tmp_path / "empty-bin"
    env_path.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "mqwire.compiler.cli", "diff", "topology.yaml", "--against", "HEAD"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": str(env_path)},
    )
    assert result.returncode == 2
    assert result.stderr == "error: git is not installed (needed for --against)\n"
