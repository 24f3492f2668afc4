"""Pyramid integration (``pip install 'mqwire[pyramid]'``): ``config.include("mqwire.pyramid")``
or ``pyramid.includes = mqwire.pyramid``.

It adds the directive ``config.add_publisher_consumer(name, settings_prefix)`` (the settings
grammar of mqwire's ``Configurator``), finds ``@task_config`` functions in ``config.scan()``,
registers one ``IPublisher`` utility per name (also ``get_publisher(request, name)`` and
``request.mq_publisher(name)``), and wires a compiled topology from the setting
``mqwire.compiled``. ``mserve development.ini`` serves the application's tasks. See
docs/pyramid.md. Only this package imports ``pyramid``, ``zope`` or ``venusian`` (and the
decorator, venusian, where installed).
"""

from __future__ import annotations

try:
    import pyramid.config  # noqa: F401
except ImportError as exc:
    raise ImportError("mqwire.pyramid needs Pyramid: pip install 'mqwire[pyramid]'") from exc

from .config import add_mq_task, add_publisher_consumer, get_publisher, get_registry, includeme
from .interfaces import IPublisher, IWiring
from .wiring import ProcessPublisher, PyramidWiring

__all__ = [
    "IPublisher",
    "IWiring",
    "ProcessPublisher",
    "PyramidWiring",
    "add_mq_task",
    "add_publisher_consumer",
    "get_publisher",
    "get_registry",
    "includeme",
]
