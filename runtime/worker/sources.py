"""What ``mserve CONFIG`` is given: a compiled INI, or an application's PasteDeploy file.

A compiled INI has an ``[mqwire]`` section; a PasteDeploy/plaster file (``development.ini``,
``development.ini#main``) has ``[app:...]``, ``[pipeline:...]`` or ``[composite:...]``
sections. No flag is needed: the file's section names tell. A PasteDeploy file is bootstrapped
through ``mqwire.pyramid`` (``pip install 'mqwire[pyramid]'``), imported only then.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..decorator import without_scan_callbacks
from ..errors import ConfigurationError
from ..wiring.load import load
from ..wiring.registry import Registry

#: Section prefixes that only a PasteDeploy file has.
PASTE_SECTIONS = ("app:", "pipeline:", "composite:", "filter-app:")
_SECTION = re.compile(r"^\[([^\]]+)\]", re.MULTILINE)


def is_paste_deploy(config: str) -> bool:
    """True for ``file.ini#name``, or a file with PasteDeploy sections and no ``[mqwire]``.
    An unreadable file is a compiled INI here; ``load()`` reports it."""
    path, sep, _ = config.partition("#")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    sections = [s.strip() for s in _SECTION.findall(text)]
    if "mqwire" in sections:
        return False
    return bool(sep) or any(s.startswith(PASTE_SECTIONS) for s in sections)


def load_served(config: str) -> tuple[Registry, Callable[[], None]]:
    """The registry to serve from ``config`` and what to call once done with it.

    Raises:
        ConfigurationError: from ``load()`` or from the application's bootstrap; or a
            PasteDeploy file without ``mqwire[pyramid]`` installed.
        TopologyErrors: a malformed compiled INI.
    """
    if not is_paste_deploy(config):
        with without_scan_callbacks():  # no Pyramid scan in this process: marks suffice
            registry = load(config)
        return registry, registry.close
    with _needs_pyramid(config):
        from mqwire.pyramid.serving import bootstrap_registry
    registry, closer = bootstrap_registry(config)

    def close() -> None:
        try:
            registry.close()
        finally:
            closer()

    return registry, close


def setup_served_logging(config: str) -> bool:
    """Logging from a PasteDeploy ``config``'s own ``[loggers]``, ``[handlers]`` and
    ``[formatters]``, as ``pserve`` sets it up; False (nothing done) for a compiled INI or a
    file without ``[loggers]``.

    Raises:
        ConfigurationError: the sections are wrong, or ``mqwire[pyramid]`` is not installed.
    """
    if not is_paste_deploy(config):
        return False
    with _needs_pyramid(config):
        from mqwire.pyramid.serving import setup_logging
    return setup_logging(config)


@contextmanager
def _needs_pyramid(config: str) -> Iterator[None]:
    """Around importing ``mqwire.pyramid``: its absence is a configuration error."""
    try:
        yield
    except ImportError as exc:
        raise ConfigurationError(
            f"{config} is a PasteDeploy file: serving it needs pip install 'mqwire[pyramid]' "
            f"({exc})"
        ) from exc
