"""Shared fixtures: a real RabbitMQ for broker tests, skipped locally when absent, failing in CI.

The broker, its throw-away vhosts and ``mserve`` processes come from mqwire's own pytest plugin
(``mqwire.testing``, docs/testing.md), so the suite runs it every day: ``mqwire_broker``,
``rabbitmq_url`` and ``mqwire_worker``. ``--mqwire-amqp-url`` (or ``MQWIRE_TEST_AMQP_URL``)
points them at another broker.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator

import pytest

from mqwire.testing import TestBroker, skip_unless_ci, throwaway_vhost

#: Private RabbitMQ nodes for destructive tests (the ``private_node`` fixtures), and pytester.
pytest_plugins = ["private_broker", "private_cluster", "pytester"]


@pytest.fixture(scope="session")
def amqp_url(mqwire_broker: TestBroker) -> str:
    """The test broker's URL (its root vhost); skips (or fails, when CI is set) if unreachable."""
    return mqwire_broker.amqp_url


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


@pytest.fixture(scope="module")
def vhost_url(mqwire_broker: TestBroker, request: pytest.FixtureRequest) -> Iterator[str]:
    """A throw-away vhost for one test module: fixed topology names never collide."""
    with throwaway_vhost(mqwire_broker, request.module.__name__.rsplit(".", 1)[-1]) as url:
        yield url


@pytest.fixture
def fresh_vhost_url(rabbitmq_url: str) -> str:
    """A throw-away vhost for one test (the plugin's ``rabbitmq_url``): nothing another test
    left behind can be counted."""
    return rabbitmq_url
