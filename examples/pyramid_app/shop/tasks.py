"""The worker side: found by ``config.scan()`` (and by mq-compile's ``scan:``)."""

from mqwire.pyramid import get_publisher
from mqwire.runtime import task_config

from .resources import OrderResource


@task_config(root_factory=OrderResource, queue="orders", timeout=60)
def record_order(context, request):
    """Append the order to the file the application's settings name."""
    settings = request.registry.settings  # the Pyramid application's registry
    assert get_publisher(request, "cart") is not None  # its utilities too
    with open(settings["shop.orders_file"], "a", encoding="utf-8") as orders:
        orders.write(f"{context.order_id} {type(context).__name__} {settings['shop.name']}\n")
