"""Which pika connection classes and ioloop mqwire uses: pika's own, or the fast paths.

The one place outside ``_fastpath`` that knows the tricks exist; ``MQWIRE_FASTPATH``
(``_fastpath/switch.py``) decides which are on.
"""

from __future__ import annotations

from typing import Any

from pika.adapters.select_connection import SelectConnection  # type: ignore[import-untyped]
from pika.adapters.tornado_connection import TornadoConnection  # type: ignore[import-untyped]

from .._fastpath import shared_loop
from .._fastpath.classes import compose
from .._fastpath.switch import Fastpath


def select_connection(fastpath: Fastpath) -> type:
    """The publisher's connection class (its own I/O thread runs the ioloop)."""
    return compose(SelectConnection, reads=fastpath.reads, writes=fastpath.writes)


def tornado_connection(fastpath: Fastpath) -> type:
    """The worker's connection class, on the running tornado/asyncio loop."""
    return compose(TornadoConnection, reads=fastpath.reads, writes=fastpath.writes)


def publisher_loop(fastpath: Fastpath) -> Any:
    """A new ioloop for a publisher's I/O thread: shared with caller threads, or pika's own."""
    return shared_loop.new_loop(fastpath.shared_ioloop)
