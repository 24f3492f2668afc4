"""A small Pyramid shop: a view that publishes an order, a task that records it.

Run the web side with ``pserve development.ini`` and the worker with ``mserve development.ini``
(``AMQP_URL`` names the broker); see docs/pyramid.md.
"""

from pyramid.config import Configurator


def main(global_config, **settings):
    """The WSGI application (``use = call:shop:main`` in development.ini)."""
    with Configurator(settings=settings, root_factory="shop.resources.Root") as config:
        # pyramid.includes = mqwire.pyramid in the INI has added the directive
        config.add_publisher_consumer("cart", "shop.cart.mq")
        config.add_route("order", "/orders", request_method="POST")
        config.scan()  # the view below, and the @task_config task in shop.tasks
    return config.make_wsgi_app()
