"""Shared fixtures: a real RabbitMQ for broker tests, skipped locally when absent, failing in CI."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import uuid
from collections.abc import Callable, Iterator
from urllib.parse import quote

import pytest
from ci_skip import skip_unless_ci

#: Private RabbitMQ nodes for destructive tests: the ``private_node`` fixtures (see the module).
pytest_plugins = ["private_broker"]

#: Where the broker tests connect; override with MQWIRE_TEST_AMQP_URL.
AMQP_URL = os.environ.get("MQWIRE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")


def _broker_reachable(host: str = "127.0.0.1", port: int = 5672) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def amqp_url() -> str:
    """The test broker's URL; skips (or fails, when CI is set) if no broker listens."""
    if not _broker_reachable():
        skip_unless_ci("RabbitMQ is not reachable on 127.0.0.1:5672")
    return AMQP_URL


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> Iterator[str]:
    """A name no other test uses, for queues and exchanges: tests never disturb each other."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)[:40]
    yield f"mqwire-test.{stem}.{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def rabbitmqctl() -> Callable[..., str]:
    """Runs ``rabbitmqctl -q ARGS`` (inspection and per-connection fault injection)."""
    exe = shutil.which("rabbitmqctl")
    if exe is None:
        skip_unless_ci("rabbitmqctl is not installed (needed for fault injection)")

    def run(*args: str) -> str:
        done = subprocess.run(
            [exe, "-q", *args], check=True, capture_output=True, text=True, timeout=60
        )
        return done.stdout

    return run


@contextlib.contextmanager
def _throwaway_vhost(amqp_url: str, rabbitmqctl: Callable[..., str], label: str) -> Iterator[str]:
    name = f"mqwire-test-{label[:60]}-{uuid.uuid4().hex[:8]}"
    rabbitmqctl("add_vhost", name)
    try:
        rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        yield f"{amqp_url.rsplit('/', 1)[0]}/{quote(name, safe='')}"
    finally:
        rabbitmqctl("delete_vhost", name)


@pytest.fixture(scope="module")
def vhost_url(
    amqp_url: str, rabbitmqctl: Callable[..., str], request: pytest.FixtureRequest
) -> Iterator[str]:
    """A throw-away vhost for one test module: fixed topology names never collide."""
    with _throwaway_vhost(amqp_url, rabbitmqctl, request.module.__name__.rsplit(".", 1)[-1]) as url:
        yield url


@pytest.fixture
def fresh_vhost_url(
    amqp_url: str, rabbitmqctl: Callable[..., str], request: pytest.FixtureRequest
) -> Iterator[str]:
    """A throw-away vhost for one test: nothing another test left behind can be counted."""
    label = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)
    with _throwaway_vhost(amqp_url, rabbitmqctl, label) as url:
        yield url
