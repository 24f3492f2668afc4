"""``MQWIRE_FASTPATH=auto|on|off``: which fast paths (tricks on pika's internals) are on.

Each trick replaces a piece of pika 1.x with private names a later pika may rename or
rewrite, and a rewrite would not fail loudly: deliveries would go wrong. So ``auto`` (the
default) uses a trick only on the pika minor versions it was tested with, ``off`` keeps
pika's public behaviour, and ``on`` forces every trick (tests, benchmarks). In every mode a
trick whose internals are missing at run time stays off. See docs/fastpath.md.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Mapping
from typing import NamedTuple

from ..errors import ConfigurationError

log = logging.getLogger("mqwire.fastpath")

#: The environment variable, and ``mserve --fastpath``'s values.
ENV = "MQWIRE_FASTPATH"
MODES = ("auto", "on", "off")
TRICKS = ("reads", "writes", "shared_ioloop")

#: The pika minor versions each trick was tested with: ``auto`` turns it on only for these.
TESTED: Mapping[str, frozenset[str]] = {
    "reads": frozenset({"1.4"}),
    "writes": frozenset({"1.4"}),
    # It changes pika's threading model (caller threads use the connection while the I/O
    # thread sleeps): tests/runtime/fastpath/test_shared_loop_stress.py breaks a fake server
    # under many publishing threads (connections dropped, channels closed by the server,
    # nacks, coalesced acks, blocked publishing, close() mid-publish) in both modes.
    "shared_ioloop": frozenset({"1.4"}),
}


class Fastpath(NamedTuple):
    """The tricks one process (or one test) uses; the default is pika's public behaviour."""

    reads: bool = False
    writes: bool = False
    shared_ioloop: bool = False
    mode: str = "off"
    pika_version: str = ""

    def describe(self) -> str:
        tricks = " ".join(f"{t}={'on' if getattr(self, t) else 'off'}" for t in TRICKS)
        return f"fastpath: {tricks} (pika {self.pika_version}, {ENV}={self.mode})"


def mode_of(environ: Mapping[str, str]) -> str:
    """The mode ``environ`` asks for (``auto`` when unset or empty).

    Raises:
        ConfigurationError: a value other than ``auto``, ``on`` or ``off``.
    """
    mode = environ.get(ENV, "").strip().lower() or "auto"
    if mode not in MODES:
        raise ConfigurationError(
            f"{ENV}={environ[ENV]!r} is not valid: use one of {', '.join(MODES)}"
        )
    return mode


def choose(mode: str, pika_version: str, supported: Mapping[str, bool]) -> Fastpath:
    """Pure: the tricks ``mode`` turns on, given pika's version and which internals exist."""
    minor = ".".join(pika_version.split(".")[:2])

    def wanted(trick: str) -> bool:
        if mode == "off" or not supported.get(trick, False):
            return False
        return mode == "on" or minor in TESTED[trick]

    return Fastpath(
        reads=wanted("reads"),
        writes=wanted("writes"),
        shared_ioloop=wanted("shared_ioloop"),
        mode=mode,
        pika_version=pika_version,
    )


def decide(environ: Mapping[str, str] | None = None) -> Fastpath:
    """The tricks for ``environ`` (default ``os.environ``) with the installed pika."""
    mode = mode_of(os.environ if environ is None else environ)
    import pika  # type: ignore[import-untyped]  # only once a connection is wanted

    from . import reads, shared_loop, writes

    supported = {
        "reads": reads.supported(),
        "writes": writes.supported(),
        "shared_ioloop": shared_loop.supported(),
    }
    return choose(mode, str(pika.__version__), supported)


@functools.cache
def for_process() -> Fastpath:
    """The process's decision from ``os.environ``, made and logged once (mserve's start, or
    the first publisher): set ``MQWIRE_FASTPATH`` before it."""
    decision = decide(os.environ)
    log.info("%s", decision.describe())
    return decision
