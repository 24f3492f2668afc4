"""The management API's pure parts: the endpoint a broker URL implies, and binding drift."""

from __future__ import annotations

import base64
import http.server
import threading
from pathlib import Path

import pytest

from mqwire.runtime.errors import ManagementUnavailable
from mqwire.runtime.ops import admin
from mqwire.runtime.ops.management_api import Endpoint, LiveBinding, ManagementApi, endpoint
from mqwire.runtime.ops.verify import UNCHECKED_WITH_API, Finding, compare_bindings
from mqwire.topology.declarations import (
    BindingDeclaration,
    Declarations,
    ExchangeDeclaration,
)


def test_endpoint_is_derived_from_the_amqp_url() -> None:
    where = endpoint("amqp://app:p%40ss@rabbit.example:5672/%2F")
    derived = "derived from the AMQP URL's host"
    assert where == Endpoint("http://rabbit.example:15672", "app", "p@ss", "/", derived)
    assert where.masked == "http://app:***@rabbit.example:15672"
    assert endpoint("amqp://rabbit/shop").vhost == "shop"
    assert endpoint("amqp://rabbit").vhost == "/"
    assert (endpoint("amqp://rabbit").user, endpoint("amqp://rabbit").password) == (
        "guest",
        "guest",
    )
    assert endpoint("amqps://u:p@rabbit/v").base_url == "https://rabbit:15671"


def test_no_endpoint_is_guessed_for_a_broker_off_the_default_port() -> None:
    """Port 5682 is another node (or a tunnel): its management API is not at :15672."""
    with pytest.raises(ManagementUnavailable, match=r"port 5672.*give --management-url"):
        endpoint("amqp://app:secret@127.0.0.1:5682/%2F")
    with pytest.raises(ManagementUnavailable, match="port 5671"):
        endpoint("amqps://app:secret@rabbit:5999/%2F")
    assert endpoint("amqp://app:secret@127.0.0.1:5682/%2F", "http://127.0.0.1:15682").vhost == "/"


def test_credentials_never_follow_a_redirect(tmp_path: Path) -> None:
    """urllib would copy Authorization onto the redirect, to any host: no redirect is taken."""
    elsewhere = Recorder(("127.0.0.2", 0))
    first = Recorder(("127.0.0.1", 0), redirect=f"http://127.0.0.2:{elsewhere.port}/api/queues/%2F")
    try:
        api = ManagementApi(endpoint("amqp://app:secret@127.0.0.1/%2F", first.url))
        with pytest.raises(
            ManagementUnavailable, match=r"redirected \(HTTP 302\) to http://127.0.0.2"
        ) as raised:
            api.queues()
    finally:
        first.close()
        elsewhere.close()
    assert first.authorizations == ["Basic " + base64.b64encode(b"app:secret").decode()]
    assert elsewhere.authorizations == []  # never asked
    assert "secret" not in str(raised.value)


class Recorder:
    """A one-thread HTTP server on loopback that records each request's Authorization."""

    def __init__(self, address: tuple[str, int], redirect: str | None = None) -> None:
        self.authorizations: list[str | None] = []
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                recorder.authorizations.append(self.headers.get("Authorization"))
                if redirect is not None:
                    self.send_response(302)
                    self.send_header("Location", redirect)
                    self.end_headers()
                else:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(b"[]")

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.HTTPServer(address, Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://{address[0]}:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def test_an_explicit_management_url_may_carry_its_own_credentials() -> None:
    amqp = "amqp://app:secret@rabbit:5672/shop"
    same = endpoint(amqp, "https://admin.example/rabbit/")
    assert same == Endpoint("https://admin.example/rabbit", "app", "secret", "shop")
    own = endpoint(amqp, "http://ops:other@127.0.0.1:1")
    assert own == Endpoint("http://127.0.0.1:1", "ops", "other", "shop")
    assert "other" not in own.masked and "secret" not in own.masked


PLAN = Declarations(
    exchanges=(ExchangeDeclaration("ev"),),
    bindings=(BindingDeclaration("a", "ev", "a.#"), BindingDeclaration("b", "ev", "b")),
)


def test_compare_bindings_finds_missing_and_extra_on_topology_exchanges_only() -> None:
    live = [
        LiveBinding("", "a", "a"),  # the default exchange: never compared
        LiveBinding("ev", "a", "a.#"),
        LiveBinding("ev", "a", "surprise"),
        LiveBinding("ev", "other.ex", "x", "exchange"),
        LiveBinding("elsewhere", "b", "b"),  # not a topology exchange
    ]
    found = {f.name: f.state for f in compare_bindings(PLAN, live)}
    assert found == {
        "ev -> a [a.#]": "ok",
        "ev -> a [surprise]": "extra",
        "ev -> b [b]": "missing",
        "ev -> exchange other.ex [x]": "extra",
    }
    assert all(f.kind == "binding" for f in compare_bindings(PLAN, live))
    assert [f.state for f in compare_bindings(PLAN, [])] == ["missing", "missing"]


def test_verify_report_with_the_api_says_what_it_still_cannot_see() -> None:
    findings = [Finding("binding", "ev -> a [a.#]", "ok")]
    text = admin.verify_report(findings, 0, api=True)
    assert "all 1 exchanges, queues and bindings match" in text
    assert text.splitlines()[-1] == f"not checked: {UNCHECKED_WITH_API}"
    extra = Finding("binding", "ev -> a [x]", "extra")
    assert extra.drift
