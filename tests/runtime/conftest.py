"""Fixtures of the ``mserve`` tests: the compiled test topology in a fresh vhost, and workers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import topology_setup as wiring
from mserve_harness import CHECKED_SCHEMA, QUEUES, Mserve, consuming, topology, wait_until

from mqwire.runtime import Registry, load


@pytest.fixture
def mserve_heartbeat() -> int:
    """The connection heartbeat of the test topology; override with ``parametrize``."""
    return 30


@pytest.fixture
def mserve_url(fresh_vhost_url: str) -> str:
    """Where ``setup`` declares and ``start``'s workers connect: a fresh vhost on the shared
    node. A module of destructive tests overrides it with a vhost on a private node."""
    return fresh_vhost_url


@pytest.fixture
def setup(
    tmp_path: Path, mserve_url: str, mserve_heartbeat: int
) -> Iterator[tuple[Path, Registry]]:
    """The compiled test topology, declared in a fresh vhost, and a registry to publish with."""
    (tmp_path / "checked.json").write_text(CHECKED_SCHEMA)
    ini = wiring.compile_into(tmp_path, topology(mserve_heartbeat))
    registry = load(ini, environ={"AMQP_URL": mserve_url})
    wiring.declare(mserve_url, registry)
    yield ini, registry
    registry.close()


@pytest.fixture
def start(
    setup: tuple[Path, Registry], mserve_url: str, tmp_path: Path
) -> Iterator[Callable[..., Mserve]]:
    """Starts mserve processes and waits until they consume; kills leftovers at the end."""
    started: list[Mserve] = []

    def run(*args: str, wait: bool = True) -> Mserve:
        worker = Mserve(setup[0], mserve_url, tmp_path, *args)
        started.append(worker)
        if wait:
            wait_until(consuming(mserve_url, QUEUES), timeout=30, what="mserve consuming")
        return worker

    yield run
    for worker in started:
        worker.stop()
