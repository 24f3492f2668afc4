"""``mserve development.ini`` on RabbitMQ: the example app's view publishes through the broker
and the worker, bootstrapped from the same PasteDeploy file, runs the scanned task."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mqwire.testing import WorkerProcess, wait_until

pytestmark = pytest.mark.broker


@pytest.mark.parametrize("args", [(), ("--processes", "2")], ids=["one", "group"])
def test_mserve_serves_the_tasks_of_a_pyramid_app(
    args: tuple[str, ...],
    example_on_path: Path,
    tmp_path: Path,
    serve_shop: Callable[..., tuple[WorkerProcess, Any]],
    orders: Callable[[], list[str]],
) -> None:
    ini = tmp_path / "development.ini"
    shutil.copy(example_on_path / "development.ini", ini)
    worker, web = serve_shop(ini, args)  # a group: each child bootstraps the app

    for order in ("A-1", "A-2"):
        web.post("/orders", {"order_id": order})

    wait_until(lambda: len(orders()) == 2, timeout=30, what="both orders recorded")
    assert sorted(orders()) == ["A-1 OrderResource demo shop", "A-2 OrderResource demo shop"]
    assert worker.stop() == 0


def test_mserve_names_an_app_without_mqwire_pyramid(
    example_on_path: Path, tmp_path: Path, mqwire_worker: Callable[..., WorkerProcess]
) -> None:
    text = (example_on_path / "development.ini").read_text()
    ini = tmp_path / "development.ini"
    ini.write_text(text.replace("pyramid.includes = mqwire.pyramid\n", ""))

    worker = mqwire_worker(ini, {"PYTHONPATH": str(example_on_path)}, wait_ready=False)

    assert worker.wait() == 2
    assert "add_publisher_consumer" in worker.output()  # the app's own main() fails on it
