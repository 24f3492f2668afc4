"""``mserve development.ini`` on RabbitMQ: the example app's view publishes through the broker
and the worker, bootstrapped from the same PasteDeploy file, runs the scanned task."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import webtest
from pyramid.paster import get_app

from mqwire.testing import WorkerProcess, wait_until

pytestmark = pytest.mark.broker


def copy_example_ini(example: Path, tmp_path: Path, text: str | None = None) -> Path:
    """development.ini (or ``text``) in ``tmp_path``: its ``%(here)s/orders.log`` lands there."""
    ini = tmp_path / "development.ini"
    if text is None:
        shutil.copy(example / "development.ini", ini)
    else:
        ini.write_text(text)
    return ini


def orders(tmp_path: Path) -> list[str]:
    log = tmp_path / "orders.log"
    return log.read_text().splitlines() if log.exists() else []


def test_mserve_serves_the_tasks_of_a_pyramid_app(
    example_on_path: Path,
    tmp_path: Path,
    fresh_vhost_url: str,
    mqwire_worker: Callable[..., WorkerProcess],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ini = copy_example_ini(example_on_path, tmp_path)
    environ = {"AMQP_URL": fresh_vhost_url, "PYTHONPATH": str(example_on_path)}
    worker = mqwire_worker(ini, environ)
    monkeypatch.setenv("AMQP_URL", fresh_vhost_url)  # the web side, in this process
    web = webtest.TestApp(get_app(f"{ini}#main"))

    for order in ("A-1", "A-2"):
        web.post("/orders", {"order_id": order})

    wait_until(lambda: len(orders(tmp_path)) == 2, timeout=30, what="both orders recorded")
    recorded = ["A-1 OrderResource demo shop", "A-2 OrderResource demo shop"]
    assert sorted(orders(tmp_path)) == recorded
    assert worker.stop() == 0


def test_mserve_names_an_app_without_mqwire_pyramid(
    example_on_path: Path, tmp_path: Path, mqwire_worker: Callable[..., WorkerProcess]
) -> None:
    text = (example_on_path / "development.ini").read_text()
    without = text.replace("pyramid.includes = mqwire.pyramid\n", "")
    ini = copy_example_ini(example_on_path, tmp_path, without)

    worker = mqwire_worker(ini, {"PYTHONPATH": str(example_on_path)}, wait_ready=False)

    assert worker.wait() == 2
    assert "add_publisher_consumer" in worker.output()  # the app's own main() fails on it
