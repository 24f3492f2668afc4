"""The explicit scan: marked functions found in packages, with import paths and places."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mqwire.runtime import task_config
from mqwire.topology import TopologyErrors, load_topology
from mqwire.topology.scan import TASK_MARK, TaskMark, scan_packages

TOPOLOGY = """\
version: 1
publisher_consumers:
  shop: {prefix: shop.mq, transport: local}
queues:
  cart: {consumer: shop}
  mail: {consumer: shop}
scan: [shop_app]
"""


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A throw-away package ``shop_app`` on sys.path, forgotten again afterwards."""
    root = tmp_path / "shop_app"
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "resources.py").write_text("class Cart:\n    def __init__(self, request): ...\n")
    (root / "tasks.py").write_text(
        "from mqwire.runtime import task_config\n"
        "from shop_app.resources import Cart\n\n\n"
        "@task_config(root_factory=Cart, queue='cart', timeout=5)\n"
        "def release(context, request):\n    pass\n\n\n"
        "def helper(context, request):\n    pass\n"
    )
    (root / "sub").mkdir()
    (root / "sub" / "__init__.py").write_text("")
    (root / "sub" / "mail.py").write_text(
        "from mqwire.runtime import task_config\n"
        "from shop_app.tasks import release  # a re-export is found where it is defined\n\n\n"
        "@task_config(queue='mail', name='send_mail')\n"
        "def send(context, request):\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield root
    for name in [m for m in sys.modules if m == "shop_app" or m.startswith("shop_app.")]:
        del sys.modules[name]


def test_decorator_only_marks_and_returns_the_function() -> None:
    def work(context: object, request: object) -> None: ...

    marked = task_config(queue="jobs", timeout=3)(work)
    assert marked is work
    assert getattr(work, TASK_MARK) == TaskMark(name="work", queue="jobs", timeout=3)


def test_decorator_needs_a_queue() -> None:
    with pytest.raises(TypeError, match="needs queue="):
        task_config()


def test_scan_finds_marked_functions_in_submodules(package: Path) -> None:
    result = scan_packages(["shop_app"])
    assert result.problems == ()
    assert [(t.name, t.task, t.queue, t.root_factory, t.timeout) for t in result.tasks] == [
        ("send_mail", "shop_app.sub.mail:send", "mail", None, None),
        ("release", "shop_app.tasks:release", "cart", "shop_app.resources:Cart", 5),
    ]
    assert result.tasks[1].location.line == 5
    assert result.tasks[1].location.source.endswith("shop_app/tasks.py")


def test_scanned_tasks_join_the_topology(package: Path) -> None:
    topology = load_topology(TOPOLOGY)
    assert sorted(topology.tasks) == ["release", "send_mail"]
    assert topology.tasks["release"].root_factory == "shop_app.resources:Cart"


def test_conflict_with_tasks_section_names_both_places(package: Path) -> None:
    text = TOPOLOGY + "tasks:\n  release: {task: shop_app.other:release, queue: cart}\n"
    with pytest.raises(TopologyErrors) as caught:
        load_topology(text, source_name="t.yaml")
    (error,) = caught.value.errors
    assert str(error.location) == "t.yaml:9:3"
    assert error.related[0].source.endswith("shop_app/tasks.py")
    assert "defined under tasks: and by @task_config on shop_app.tasks:release" in str(error)


def test_two_tasks_on_one_queue_across_yaml_and_scan(package: Path) -> None:
    text = TOPOLOGY + "tasks:\n  other: {task: shop_app.other:run, queue: mail}\n"
    with pytest.raises(TopologyErrors) as caught:
        load_topology(text, source_name="t.yaml")
    (error,) = caught.value.errors
    assert "queue 'mail' already runs task 'other'" in str(error)
    assert str(error.related[0]) == "t.yaml:9:44"


def test_import_failure_is_reported_at_the_scan_entry(tmp_path: Path) -> None:
    with pytest.raises(TopologyErrors) as caught:
        load_topology(TOPOLOGY.replace("shop_app", "no_such_package"), source_name="t.yaml")
    (error,) = caught.value.errors
    assert str(error).startswith("t.yaml:7:8: error: cannot import 'no_such_package'")


def test_unknown_queue_of_a_scanned_task_points_at_the_function(package: Path) -> None:
    tasks = package / "tasks.py"
    tasks.write_text(tasks.read_text().replace("queue='cart'", "queue='kart'"))
    with pytest.raises(TopologyErrors) as caught:
        load_topology(TOPOLOGY)
    (error,) = caught.value.errors
    assert error.location.source.endswith("shop_app/tasks.py")
    assert "shop_app.tasks:release: unknown queue 'kart'" in error.message
