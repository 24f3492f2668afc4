"""What the mqctl tests share: the shared broker's management API."""

from __future__ import annotations

import base64
import urllib.request

import pytest

from mqwire.testing import skip_unless_ci


@pytest.fixture(scope="session")
def management(amqp_url: str) -> str:
    """The management API's base URL; skips (or fails, when CI is set) if it does not answer."""
    base = "http://127.0.0.1:15672"
    token = base64.b64encode(b"guest:guest").decode()
    request = urllib.request.Request(
        base + "/api/overview", headers={"Authorization": f"Basic {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            response.read()
    except OSError as exc:
        skip_unless_ci(f"the RabbitMQ management API does not answer at {base}: {exc}")
    return base
