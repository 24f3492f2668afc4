"""The example Pyramid app (examples/pyramid_app) on the local transport, through WebTest:
the view publishes, the scanned task runs in-process with the application's registry."""

from __future__ import annotations

from pathlib import Path

import webtest
from pyramid.paster import get_appsettings

from mqwire.pyramid import IPublisher, get_publisher, get_registry

LOCAL = "mqwire.runtime.publisher.locally_dispatching_publisher_consumer_factory"


def make_app(example: Path, tmp_path: Path, **overrides: str) -> webtest.TestApp:
    """The example's app from its development.ini, on the local transport, writing its orders
    to ``tmp_path``."""
    import shop

    settings = dict(get_appsettings(str(example / "development.ini")))
    settings.update({"shop.cart.mq": LOCAL, "shop.orders_file": str(tmp_path / "orders.log")})
    settings.update(overrides)
    return webtest.TestApp(shop.main({}, **settings))


def test_a_view_publishes_and_the_scanned_task_runs(example_on_path: Path, tmp_path: Path) -> None:
    app = make_app(example_on_path, tmp_path)

    response = app.post("/orders", {"order_id": "A-1"})

    assert response.json["order_id"] == "A-1"
    assert (tmp_path / "orders.log").read_text() == "A-1 OrderResource demo shop\n"
    registry = get_registry(app.app.registry)
    assert registry.local_broker.dead_letters == []
    assert sorted(registry.tasks) == ["record_order"]


def test_the_publisher_is_a_utility_per_name_and_one_per_process(
    example_on_path: Path, tmp_path: Path
) -> None:
    app = make_app(example_on_path, tmp_path)
    pyramid_registry = app.app.registry

    utility = pyramid_registry.getUtility(IPublisher, name="cart")

    assert get_publisher(pyramid_registry, "cart") is utility
    assert utility.current is get_registry(pyramid_registry).publisher("cart")
    assert utility.current is utility.current  # built once in this process
    message_id = utility.publish({"order_id": "B-2"}, "orders")
    assert message_id
    assert (tmp_path / "orders.log").read_text() == "B-2 OrderResource demo shop\n"
