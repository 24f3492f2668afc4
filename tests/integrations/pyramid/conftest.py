"""mqwire.pyramid's tests need Pyramid and WebTest (the `test` extra): skipped without them
locally, failing in CI. The example app (examples/pyramid_app) is imported from its folder."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from mqwire.testing import WorkerProcess, import_or_skip

import_or_skip("pyramid", "webtest", "plaster_pastedeploy", install="pip install -e '.[test]'")

import webtest  # noqa: E402  (only once it is known there)
from pyramid.paster import get_app  # noqa: E402

from mqwire.pyramid import IWiring  # noqa: E402

#: The example application's folder (its package ``shop`` and development.ini).
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "pyramid_app"


@pytest.fixture
def example_on_path() -> Iterator[Path]:
    """examples/pyramid_app on ``sys.path`` for one test, its modules forgotten after it."""
    sys.path.insert(0, str(EXAMPLE))
    try:
        yield EXAMPLE
    finally:
        sys.path.remove(str(EXAMPLE))
        for name in [m for m in sys.modules if m == "shop" or m.startswith("shop.")]:
            del sys.modules[name]


@pytest.fixture
def orders(tmp_path: Path) -> Callable[[], list[str]]:
    """The lines the shop's task recorded in ``tmp_path/orders.log`` (an INI copied into
    ``tmp_path`` writes there: ``%(here)s/orders.log``)."""

    def read() -> list[str]:
        log = tmp_path / "orders.log"
        return log.read_text().splitlines() if log.exists() else []

    return read


@pytest.fixture
def serve_shop(
    example_on_path: Path,
    fresh_vhost_url: str,
    mqwire_worker: Callable[..., WorkerProcess],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[..., tuple[WorkerProcess, webtest.TestApp]]]:
    """``serve_shop(ini, args=(), **environ)``: ``mserve INI ARGS`` running the shop's tasks,
    and the web side in this process (WebTest), both on a throw-away vhost (``${AMQP_URL}``).
    The web side's publishers are closed after the test (a process would at its exit)."""
    apps: list[webtest.TestApp] = []

    def serve(
        ini: Path, args: Sequence[str] = (), **environ: str
    ) -> tuple[WorkerProcess, webtest.TestApp]:
        paths = {"AMQP_URL": fresh_vhost_url, "PYTHONPATH": str(example_on_path)}
        worker = mqwire_worker(ini, {**paths, **environ}, args=args)
        monkeypatch.setenv("AMQP_URL", fresh_vhost_url)
        apps.append(webtest.TestApp(get_app(f"{ini}#main")))
        return worker, apps[-1]

    yield serve
    for app in apps:
        app.app.registry.getUtility(IWiring).close()
