"""``mq-compile`` imports each task path, end to end: a real process, a real package on disk."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent.parent

TOPOLOGY = """\
version: 1
publisher_consumers:
  shop: {prefix: shop.mq, transport: local}
queues:
  cart: {consumer: shop}
tasks:
  release_cart:
    task: shop_app.tasks:release_cart
    root_factory: shop_app.resources:Cart
    queue: cart
"""

#: The application the topology names, as files.
APP = {
    "shop_app/__init__.py": "",
    "shop_app/resources.py": "class Cart:\n    def __init__(self, request): ...\n",
    "shop_app/tasks.py": "print('shop_app.tasks imported')\n\n\n"
    "def release_cart(context, request): ...\n",
}


def mq_compile(
    *args: str, cwd: Path, pythonpath: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(
        [sys.executable, "-m", "mqwire.compiler.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The topology with its application beside it, where mq-compile looks first."""
    write(tmp_path, {"topology.yaml": TOPOLOGY, **APP})
    return tmp_path


def break_task_path(project: Path) -> None:
    topology = project / "topology.yaml"
    topology.write_text(topology.read_text().replace("tasks:release_cart", "tasks:release_crat"))


BAD_PATH = (
    "topology.yaml:8:11: error: task 'shop_app.tasks:release_crat': module 'shop_app.tasks' "
    "has no attribute 'release_crat'; did you mean 'release_cart'? "
    "(at $.tasks.release_cart.task)"
)


def test_compile_imports_the_tasks_beside_the_topology(project: Path) -> None:
    done = mq_compile("topology.yaml", cwd=project)
    assert done.returncode == 0, done.stderr
    assert (project / "compiled_registry.py").is_file()


def test_a_bad_task_path_is_refused_with_its_location_and_nothing_written(project: Path) -> None:
    break_task_path(project)
    done = mq_compile("topology.yaml", cwd=project)
    assert done.returncode == 2
    assert done.stderr.splitlines()[-2:] == [BAD_PATH, "1 error; nothing written"]
    assert not (project / "compiled.ini").exists()


def test_check_imports_too(project: Path) -> None:
    assert mq_compile("topology.yaml", cwd=project).returncode == 0
    break_task_path(project)
    done = mq_compile("topology.yaml", "--check", cwd=project)
    assert done.returncode == 2  # invalid, not merely stale
    assert BAD_PATH in done.stderr.splitlines()


def test_no_import_compiles_without_the_application(tmp_path: Path) -> None:
    (tmp_path / "topology.yaml").write_text(TOPOLOGY, encoding="utf-8")
    refused = mq_compile("topology.yaml", cwd=tmp_path)
    assert refused.returncode == 2
    assert "module 'shop_app.tasks' not found (there is no 'shop_app')" in refused.stderr
    done = mq_compile("topology.yaml", "--no-import", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "import shop_app.tasks\n" in (tmp_path / "compiled_registry.py").read_text()


def test_the_application_may_come_from_pythonpath(tmp_path: Path) -> None:
    write(tmp_path / "src", APP)
    write(tmp_path / "deploy", {"topology.yaml": TOPOLOGY})
    done = mq_compile("topology.yaml", cwd=tmp_path / "deploy", pythonpath=tmp_path / "src")
    assert done.returncode == 0, done.stderr


def test_an_import_that_raises_is_reported_by_its_first_line(project: Path) -> None:
    write(project, {"shop_app/resources.py": "raise RuntimeError('DB_URL is not set\\nmore')\n"})
    done = mq_compile("topology.yaml", "--check", cwd=project)
    assert done.returncode == 2
    assert (
        "topology.yaml:9:19: error: root_factory 'shop_app.resources:Cart': importing "
        "'shop_app.resources' raised RuntimeError: DB_URL is not set; importing runs the "
        "module's code"
    ) in done.stderr
    assert "more" not in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "command",
    [["graph"], ["explain", "--lint"], ["export"]],
    ids=lambda c: c[0],
)
def test_review_tools_import_as_compile_does(project: Path, command: list[str]) -> None:
    name, *options = command
    done = mq_compile(name, "topology.yaml", *options, cwd=project)
    assert done.returncode == 0, done.stderr
    assert "shop_app.tasks imported" in done.stderr  # what the app prints never enters stdout
    assert "imported" not in done.stdout
    break_task_path(project)
    refused = mq_compile(name, "topology.yaml", *options, cwd=project)
    assert refused.returncode == 2
    assert BAD_PATH in refused.stderr.splitlines()
    assert mq_compile(name, "topology.yaml", *options, "--no-import", cwd=project).returncode == 0


def test_diff_imports_nothing(project: Path) -> None:
    write(project, {"shop_app/tasks.py": "raise SystemExit('never import me')\n"})
    (project / "old.yaml").write_text(TOPOLOGY, encoding="utf-8")
    done = mq_compile("diff", "old.yaml", "topology.yaml", cwd=project)
    assert done.returncode == 0, done.stderr
    assert "never import me" not in done.stderr


def test_the_example_checks_from_the_repository_root_as_make_test_does() -> None:
    done = mq_compile("examples/ticketing/topology.yaml", "--check", cwd=ROOT)
    assert (done.returncode, done.stderr) == (0, "")
