"""``mserve development.ini``: bootstrap a Pyramid application and serve what it configured.

``mserve`` imports this module only when it is given a PasteDeploy/plaster file
(``mqwire.runtime.worker.sources`` tells the two kinds of INI apart), so a worker on a
compiled INI never loads Pyramid.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mqwire.runtime.errors import ConfigurationError
from mqwire.runtime.wiring.registry import Registry

from .interfaces import IWiring


def bootstrap_registry(config_uri: str) -> tuple[Registry, Callable[[], None]]:
    """Bootstrap the application of ``config_uri`` (``development.ini`` or
    ``development.ini#main``) as ``pshell`` does; its mqwire registry and the closer to call
    when done (it ends the bootstrap's request).

    Raises:
        ConfigurationError: the application fails to start (the cause named), or it does not
            include ``mqwire.pyramid``.
    """
    from pyramid.paster import bootstrap

    try:
        env: dict[str, Any] = bootstrap(config_uri)
    except Exception as exc:  # the application's own start-up error, reported as such
        raise ConfigurationError(
            f"{config_uri}: the Pyramid application failed to start: {type(exc).__name__}: {exc}"
        ) from exc
    closer: Callable[[], None] = env["closer"]
    wiring = env["registry"].queryUtility(IWiring)
    if wiring is None:
        closer()
        raise ConfigurationError(
            f"{config_uri}: the application does not include mqwire.pyramid "
            "(pyramid.includes = mqwire.pyramid, or config.include('mqwire.pyramid'))"
        )
    try:
        return wiring.registry(), closer
    except Exception:
        closer()
        raise


def setup_logging(config_uri: str) -> bool:
    """Apply the file's ``[loggers]``, ``[handlers]`` and ``[formatters]`` as ``pserve`` does
    (``fileConfig`` knowing ``%(here)s`` and ``%(__file__)s``, loggers made before it kept);
    False without a ``[loggers]`` section, where ``pserve`` would fall back to
    ``logging.basicConfig()`` and ``mserve`` keeps its own defaults instead.

    Raises:
        ConfigurationError: the stdlib refused the sections (the reason named).
    """
    from pyramid.paster import get_config_loader

    loader = get_config_loader(config_uri)
    if "loggers" not in loader.get_sections():
        return False
    try:
        loader.setup_logging()
    except Exception as exc:  # fileConfig raises whatever a bad section makes it raise
        raise ConfigurationError(
            f"{config_uri}: its logging sections cannot be applied: {type(exc).__name__}: {exc}"
        ) from exc
    return True
