"""An INI written for the original add-on runs with only ``pyramid.includes`` added: its
``altair.mq.*`` factory names are aliases of mqwire's, each with a one-line warning."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import webtest
from pyramid.paster import get_app

from mqwire.pyramid import get_registry
from mqwire.runtime.settings import FACTORY_ALIASES
from mqwire.testing import WorkerProcess, wait_until

ORIGINAL = Path(__file__).with_name("original_addon.ini")
DEPRECATED = r"shop\.cart\.mq: altair\.mq\.\S+ is deprecated; write mqwire\.runtime\.\S+$"


def test_each_alias_names_an_existing_mqwire_factory() -> None:
    from mqwire.runtime.wiring.configurator import resolve_dotted

    for replacement in FACTORY_ALIASES.values():
        assert callable(resolve_dotted(replacement))
    with pytest.raises(ImportError):
        __import__("altair")


def test_the_original_local_factory_runs_the_task_in_process(
    example_on_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    orders: Callable[[], list[str]],
) -> None:
    local = "altair.mq.publisher.locally_dispatching_publisher_consumer_factory"
    ini = tmp_path / "development.ini"
    text = ORIGINAL.read_text().replace(
        "shop.cart.mq = altair.mq.consumer.pika_client_factory\n"
        "               altair.mq.publisher.pika_publisher_factory\n",
        f"shop.cart.mq = {local}\n",
    )
    ini.write_text(text)
    monkeypatch.setenv("AMQP_URL", "amqp://unused.invalid/")

    with pytest.warns(DeprecationWarning, match=DEPRECATED) as caught:
        app = webtest.TestApp(get_app(f"{ini}#main"))

    assert {str(w.message).count("\n") for w in caught} == {0}  # one line each
    app.post("/orders", {"order_id": "O-1"})
    assert orders() == ["O-1 OrderResource original shop"]
    assert get_registry(app.app.registry).publisher("cart").settings.transport == "local"


@pytest.mark.broker
def test_the_original_ini_runs_under_mserve(
    tmp_path: Path,
    serve_shop: Callable[..., tuple[WorkerProcess, Any]],
    orders: Callable[[], list[str]],
) -> None:
    ini = tmp_path / "development.ini"
    shutil.copy(ORIGINAL, ini)
    with pytest.warns(DeprecationWarning, match=DEPRECATED):  # the web side's, here
        worker, web = serve_shop(ini, PYTHONWARNINGS="default::DeprecationWarning")

    web.post("/orders", {"order_id": "O-2"})

    wait_until(lambda: orders() != [], timeout=30, what="the order recorded")
    assert orders() == ["O-2 OrderResource original shop"]
    assert "altair.mq.consumer.pika_client_factory is deprecated" in worker.output()
    assert worker.stop() == 0
