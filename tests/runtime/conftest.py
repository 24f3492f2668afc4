"""Fixtures of the ``mserve`` tests: the compiled test topology in a fresh vhost, and workers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from mserve_harness import CHECKED_SCHEMA, Mserve, declared_topology, mserve_environ, topology

from mqwire.runtime import Registry


@pytest.fixture
def mserve_heartbeat() -> int:
    """The connection heartbeat of the test topology; override with ``parametrize``."""
    return 30


@pytest.fixture
def mserve_delays() -> bool:
    """Whether the test topology declares the delay ladder; override with ``parametrize``."""
    return False


@pytest.fixture
def mserve_url(fresh_vhost_url: str) -> str:
    """Where ``setup`` declares and ``start``'s workers connect: a fresh vhost on the shared
    node. A module of destructive tests overrides it with a vhost on a private node."""
    return fresh_vhost_url


@pytest.fixture
def setup(
    tmp_path: Path, mserve_url: str, mserve_heartbeat: int, mserve_delays: bool
) -> Iterator[tuple[Path, Registry]]:
    """The compiled test topology, declared in a fresh vhost, and a registry to publish with."""
    (tmp_path / "checked.json").write_text(CHECKED_SCHEMA)
    text = topology(mserve_heartbeat, mserve_delays)
    with declared_topology(tmp_path, text, mserve_url) as compiled:
        yield compiled


@pytest.fixture
def mserve(mqwire_worker: Callable[..., Mserve], tmp_path: Path) -> Callable[..., Mserve]:
    """``mserve(ini, url, *args, wait=True)``: the plugin's ``mqwire_worker`` on the test apps,
    recording to ``tmp_path/records.txt``; it waits until the worker consumes unless told not to.
    """

    def run(ini: Path, url: str, *args: str, wait: bool = True) -> Mserve:
        return mqwire_worker(ini, mserve_environ(url, tmp_path), args=args, wait_ready=wait)

    return run


@pytest.fixture
def start(
    setup: tuple[Path, Registry], mserve_url: str, mserve: Callable[..., Mserve]
) -> Callable[..., Mserve]:
    """``start(*args, wait=True)``: mserve on the test topology, in ``mserve_url``."""

    def run(*args: str, wait: bool = True) -> Mserve:
        return mserve(setup[0], mserve_url, *args, wait=wait)

    return run
