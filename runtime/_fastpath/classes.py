"""pika connection classes with the read and write tricks mixed in, as the switch asks."""

from __future__ import annotations

import functools

from pika.adapters.select_connection import SelectConnection  # type: ignore[import-untyped]
from pika.adapters.tornado_connection import TornadoConnection  # type: ignore[import-untyped]

from .reads import FrameReads
from .writes import DirectWrites


@functools.cache
def compose(base: type, *, reads: bool, writes: bool) -> type:
    """``base`` (a pika connection class) with the chosen tricks; ``base`` itself for none.

    The mixins come first in the MRO: they replace pika's own methods of the same names.
    """
    mixins = (FrameReads,) * reads + (DirectWrites,) * writes
    if not mixins:
        return base
    name = ("Direct" if reads and writes else mixins[0].__name__) + base.__name__
    return type(name, (*mixins, base), {"__module__": __name__})


#: Both tricks, on each connection mqwire uses (the tests' canaries look at these).
DirectSelectConnection = compose(SelectConnection, reads=True, writes=True)
DirectTornadoConnection = compose(TornadoConnection, reads=True, writes=True)
