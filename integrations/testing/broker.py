"""The broker tests run against, and throw-away vhosts on it (through the management API).

A vhost per test keeps fixed queue names from colliding and leaves nothing behind. It is
made over the management HTTP API, which any client can reach (a broker in a container or on
another host) and which costs milliseconds, where ``rabbitmqctl`` needs the node's Erlang
cookie and about a second of CPU per call.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import socket
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import pytest

from mqwire.runtime.errors import ManagementUnavailable
from mqwire.runtime.ops.management_api import ManagementApi, endpoint
from mqwire.topology.credentials import mask_resolved_url

#: The broker when neither ``--mqwire-amqp-url`` nor ``MQWIRE_TEST_AMQP_URL`` names one.
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
AMQP_URL_ENV = "MQWIRE_TEST_AMQP_URL"
MANAGEMENT_URL_ENV = "MQWIRE_TEST_MANAGEMENT_URL"
_PORTS = {"amqp": 5672, "amqps": 5671}


def skip_unless_ci(reason: str) -> None:
    """Skip here; fail when ``CI`` is set, so CI never passes without running the test."""
    __tracebackhide__ = True
    if os.environ.get("CI"):
        pytest.fail(reason + " (CI must run this test)", pytrace=False)
    pytest.skip(reason)


def import_or_skip(*modules: str, install: str) -> None:
    """``pytest.importorskip`` for a folder of tests, failing in CI (``install`` says how).

    Called at the top of a folder's ``conftest.py``, it skips (or fails) the whole folder.
    """
    __tracebackhide__ = True
    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if not missing:
        return
    reason = f"{', '.join(missing)} not installed ({install})"
    if os.environ.get("CI"):
        pytest.fail(reason + " (CI must run these tests)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


@dataclass(frozen=True)
class TestBroker:
    """Where the broker is (``amqp_url``, its root vhost) and its management API, if given."""

    __test__ = False  # not a test class, whatever pytest's collection thinks of the name

    amqp_url: str
    management_url: str | None = None

    @classmethod
    def chosen(
        cls, amqp_url: str | None, management_url: str | None, environ: Mapping[str, str]
    ) -> TestBroker:
        """The command line's choice, else the environment's, else the local guest broker."""
        return cls(
            amqp_url or environ.get(AMQP_URL_ENV) or DEFAULT_AMQP_URL,
            management_url or environ.get(MANAGEMENT_URL_ENV) or None,
        )

    def unreachable(self, timeout: float = 2.0) -> str | None:
        """Why no AMQP connection can be opened to the broker, or None when its port answers."""
        parts = urlsplit(self.amqp_url)
        host = parts.hostname or "localhost"
        port = parts.port or _PORTS.get(parts.scheme, 5672)
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return None
        except OSError as exc:
            return f"RabbitMQ is not reachable at {mask_resolved_url(self.amqp_url)}: {exc}"

    def url_for(self, vhost: str) -> str:
        """The broker's URL with ``vhost`` instead of its own (query options kept)."""
        parts = urlsplit(self.amqp_url)
        return urlunsplit(parts._replace(path="/" + quote(vhost, safe="")))


class VhostAdmin(ManagementApi):
    """Creating, permitting and deleting vhosts: what the plugin writes through the API."""

    def create(self, vhost: str) -> None:
        self._request("PUT", f"/api/vhosts/{quote(vhost, safe='')}", {})

    def permit(self, vhost: str, user: str) -> None:
        """Give ``user`` every right on ``vhost``."""
        rights = {"configure": ".*", "write": ".*", "read": ".*"}
        self._request(
            "PUT", f"/api/permissions/{quote(vhost, safe='')}/{quote(user, safe='')}", rights
        )

    def delete(self, vhost: str) -> None:
        self._request("DELETE", f"/api/vhosts/{quote(vhost, safe='')}")


def vhost_name(label: str) -> str:
    """A vhost name no other test uses, with ``label`` (a test's name) readable in it."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", label).strip("-")[:60]
    return f"mqwire-test-{stem}-{uuid.uuid4().hex[:8]}"


@contextlib.contextmanager
def throwaway_vhost(broker: TestBroker, label: str) -> Iterator[str]:
    """A new vhost that the broker URL's user may use fully; its URL. Deleted afterwards.

    Skips the test (fails it when ``CI`` is set) when the management API cannot make one.
    """
    __tracebackhide__ = True
    name = vhost_name(label)
    try:
        admin = VhostAdmin(endpoint(broker.amqp_url, broker.management_url))
        admin.create(name)
    except ManagementUnavailable as exc:
        skip_unless_ci(f"cannot make a throw-away vhost: {exc}")
    try:
        admin.permit(name, unquote(urlsplit(broker.amqp_url).username or "guest"))
        yield broker.url_for(name)
    finally:
        admin.delete(name)
