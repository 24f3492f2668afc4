"""Task paths resolved at compile time: the messages, the memo, and what the loader does."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_app import FakeApp

from mqwire.topology import TopologyErrors, load_topology
from mqwire.topology.errors import Location
from mqwire.topology.scan import ScannedTask, ScanResult
from mqwire.topology.task_imports import INSTALL_HINT, RUN_HINT, ImportProblem, ModuleImporter

TOPOLOGY = """\
version: 1
publisher_consumers:
  shop: {prefix: shop.mq, transport: local}
queues:
  cart: {consumer: shop}
  mail: {consumer: shop}
tasks:
  release_cart:
    task: shop.tasks:release_cart
    root_factory: shop.resources:CartResource
    queue: cart
  send_mail: {task: shop.mail:send, queue: mail}
"""


@pytest.fixture
def app() -> FakeApp:
    return FakeApp()


def resolve(app: FakeApp, path: str) -> ImportProblem | None:
    return ModuleImporter(app.import_module)(path)


@pytest.mark.parametrize(
    "path",
    [
        "shop.tasks:release_cart",
        "shop.resources:CartResource",  # a class is a callable root factory
        "shop.tasks:Handler.handle",  # attributes of attributes, as the registry writes them
    ],
)
def test_a_callable_resolves(app: FakeApp, path: str) -> None:
    assert resolve(app, path) is None


@pytest.mark.parametrize(
    ("path", "message", "hint"),
    [
        ("shop.taks:x", "module 'shop.taks' not found", INSTALL_HINT),
        ("nope.tasks:x", "module 'nope.tasks' not found (there is no 'nope')", INSTALL_HINT),
        (
            "shop.tasks:relase_cart",
            "module 'shop.tasks' has no attribute 'relase_cart'",
            "did you mean 'release_cart'?",
        ),
        ("shop.tasks:zzz", "module 'shop.tasks' has no attribute 'zzz'", None),
        (
            "shop.tasks:Handler.handel",
            "'shop.tasks:Handler' has no attribute 'handel'",
            "did you mean 'handle'?",
        ),
        (
            "shop.billing:charge",
            "importing 'shop.billing' raised RuntimeError: STRIPE_KEY is not set",
            RUN_HINT,
        ),
        (
            "shop.mail:send",  # the module is there; something it imports is not
            "importing 'shop.mail' raised ModuleNotFoundError: No module named 'smtplib_ng'",
            RUN_HINT,
        ),
        ("shop.exits:run", "importing 'shop.exits' raised SystemExit: 3", RUN_HINT),
    ],
)
def test_each_failure_says_what_failed(
    app: FakeApp, path: str, message: str, hint: str | None
) -> None:
    assert resolve(app, path) == ImportProblem(message, hint)


def test_something_that_cannot_be_called_is_refused(app: FakeApp) -> None:
    problem = resolve(app, "shop.tasks:SETTINGS")
    assert problem is not None
    assert problem.message == "it is a dict, which cannot be called"


def test_an_attribute_that_raises_is_reported_not_raised() -> None:
    class Lazy:
        @property
        def task(self) -> object:
            raise LookupError("no config")

    importer = ModuleImporter(lambda name: Lazy())  # type: ignore[arg-type,return-value]
    assert importer("app:task") == ImportProblem(
        "getting 'task' from module 'app' raised LookupError: no config"
    )


def test_a_long_reason_is_shortened(app: FakeApp) -> None:
    def import_module(name: str) -> object:
        raise ValueError("x" * 500)

    problem = ModuleImporter(import_module)("app:task")  # type: ignore[arg-type]
    assert problem is not None and problem.message.endswith("x...")
    assert len(problem.message) < 250


def test_each_module_is_imported_once_even_when_it_fails(app: FakeApp) -> None:
    importer = ModuleImporter(app.import_module)
    for path in ("shop.billing:charge", "shop.billing:refund", "shop.tasks:a", "shop.tasks:b"):
        importer(path)
    assert app.imported == {"shop.billing": 1, "shop.tasks": 1}


def test_the_loader_reports_each_unresolved_path_at_its_value(app: FakeApp) -> None:
    with pytest.raises(TopologyErrors) as caught:
        load_topology(TOPOLOGY, importer=ModuleImporter(app.import_module))
    assert [(str(e.location), e.json_path) for e in caught.value.errors] == [
        ("topology.yaml:12:21", "$.tasks.send_mail.task"),
    ]
    assert "importing 'shop.mail' raised ModuleNotFoundError" in caught.value.render()


def test_all_problems_come_at_once_with_the_other_checks(app: FakeApp) -> None:
    text = TOPOLOGY.replace("queue: cart", "queue: carts").replace("shop.tasks:", "shop.taks:")
    with pytest.raises(TopologyErrors) as caught:
        load_topology(text, importer=ModuleImporter(app.import_module))
    assert [e.json_path for e in caught.value.errors] == [
        "$.tasks.release_cart.task",
        "$.tasks.release_cart.queue",
        "$.tasks.send_mail.task",
    ]


def test_without_an_importer_nothing_is_imported(app: FakeApp) -> None:
    load_topology(TOPOLOGY)  # the default: the library imports nothing unless asked
    assert app.imported == {}


def test_each_path_is_resolved_once_and_scanned_tasks_not_again() -> None:
    asked: list[str] = []

    def importer(path: str) -> ImportProblem | None:
        asked.append(path)
        return None

    def scanner(packages: object) -> ScanResult:  # the scan imported it to find it
        return ScanResult((ScannedTask("other", "shop.mail:other", "other", Location("m.py", 3)),))

    text = TOPOLOGY.replace("shop.mail:send", "shop.tasks:release_cart").replace(
        "tasks:\n", "  other: {consumer: shop}\nscan: [shop.mail]\ntasks:\n", 1
    )
    topology = load_topology(text, importer=importer, scanner=scanner)
    assert sorted(topology.tasks) == ["other", "release_cart", "send_mail"]
    assert asked == ["shop.tasks:release_cart", "shop.resources:CartResource"]


@pytest.fixture
def on_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A real package ``imports_app`` on sys.path, forgotten again afterwards."""
    root = tmp_path / "imports_app"
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "tasks.py").write_text("def run(context, request):\n    pass\n\nLIMIT = 3\n")
    (root / "broken.py").write_text("raise ImportError('needs the database driver')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield root
    for name in [m for m in sys.modules if m.split(".")[0] == "imports_app"]:
        del sys.modules[name]


def test_the_real_import_system(on_disk: Path) -> None:
    importer = ModuleImporter()
    assert importer("imports_app.tasks:run") is None
    assert importer("imports_app.tasks:LIMIT") == ImportProblem(
        "it is an int, which cannot be called",
        "task: names a function called as task(context, request), root_factory: a callable",
    )
    assert importer("imports_app.tasks:rnu") == ImportProblem(
        "module 'imports_app.tasks' has no attribute 'rnu'", "did you mean 'run'?"
    )
    assert importer("imports_app.taks:run") == ImportProblem(
        "module 'imports_app.taks' not found", INSTALL_HINT
    )
    assert importer("imports_app.broken:run") == ImportProblem(
        "importing 'imports_app.broken' raised ImportError: needs the database driver", RUN_HINT
    )
