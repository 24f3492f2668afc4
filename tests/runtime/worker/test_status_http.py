"""The --http status server against a real HTTP client on a free port; address parsing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPResponse

from mqwire.runtime.worker.metrics import Metrics
from mqwire.runtime.worker.status_http import (
    METRICS_CONTENT_TYPE,
    parse_http_address,
    start_status_server,
)

Get = Callable[[str], Awaitable[HTTPResponse]]


def _serve(
    scenario: Callable[[Get], Awaitable[None]],
    metrics: Metrics | None = None,
    readiness: Callable[[], tuple[bool, str]] = lambda: (True, ""),
) -> None:
    """Runs ``scenario`` against a server on 127.0.0.1:0, then closes server and client."""

    async def main() -> None:
        render = (metrics or Metrics()).render
        server, port = start_status_server(("127.0.0.1", 0), render, readiness)
        client = AsyncHTTPClient(force_instance=True)

        def get(path: str) -> Awaitable[HTTPResponse]:
            return client.fetch(f"http://127.0.0.1:{port}{path}", raise_error=False)

        try:
            assert port != 0
            await scenario(get)
        finally:
            client.close()
            server.stop()
            await server.close_all_connections()

    asyncio.run(main())


def test_healthz_answers_ok() -> None:
    async def scenario(get: Get) -> None:
        response = await get("/healthz")
        assert (response.code, response.body) == (200, b"ok\n")
        assert response.headers["Content-Type"] == "text/plain; charset=utf-8"

    _serve(scenario)


def test_readyz_follows_the_readiness_callable() -> None:
    state = {"ready": False, "reason": "connecting to amqp://broker"}

    async def scenario(get: Get) -> None:
        response = await get("/readyz")
        assert (response.code, response.body) == (503, b"connecting to amqp://broker\n")
        state["ready"] = True
        response = await get("/readyz")
        assert (response.code, response.body) == (200, b"ready\n")
        state.update(ready=False, reason="draining")
        response = await get("/readyz")
        assert (response.code, response.body) == (503, b"draining\n")

    _serve(scenario, readiness=lambda: (bool(state["ready"]), str(state["reason"])))


def test_metrics_serves_the_current_render() -> None:
    metrics = Metrics()

    async def scenario(get: Get) -> None:
        response = await get("/metrics")
        assert response.code == 200
        assert response.headers["Content-Type"] == METRICS_CONTENT_TYPE
        assert b'mqwire_messages_processed_total{queue="orders",task="ship"} 1\n' in response.body
        metrics.started("orders")
        response = await get("/metrics")
        assert response.body.decode() == metrics.render()
        assert 'mqwire_messages_in_flight{queue="orders"} 1\n' in response.body.decode()

    metrics.started("orders")
    metrics.finished("orders", "ship", "ack", 0.01)
    _serve(scenario, metrics)


def test_unknown_paths_are_not_found() -> None:
    async def scenario(get: Get) -> None:
        for path in ("/", "/health", "/metrics/extra", "/healthz/"):
            assert (await get(path)).code == 404, path

    _serve(scenario)


def test_successful_probes_log_at_debug_only(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario(get: Get) -> None:
        await get("/healthz")
        await get("/metrics")
        await get("/readyz")
        await get("/nowhere")

    with caplog.at_level(logging.DEBUG, logger="tornado.access"):
        _serve(scenario, readiness=lambda: (False, "starting"))
    levels = {r.getMessage().split()[2]: r.levelno for r in caplog.records}
    assert levels == {
        "/healthz": logging.DEBUG,
        "/metrics": logging.DEBUG,
        "/readyz": logging.INFO,
        "/nowhere": logging.WARNING,
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("9100", ("127.0.0.1", 9100)),  # loopback unless a host is given
        ("0", ("127.0.0.1", 0)),
        (":9100", ("127.0.0.1", 9100)),
        ("0.0.0.0:9100", ("0.0.0.0", 9100)),
        ("127.0.0.1:9100", ("127.0.0.1", 9100)),
        ("localhost:65535", ("localhost", 65535)),
        ("[::1]:9100", ("::1", 9100)),
        ("[::]:0", ("::", 0)),
    ],
)
def test_parse_http_address(value: str, expected: tuple[str, int]) -> None:
    assert parse_http_address(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "port must be a number from 0 to 65535, got ''"),
        ("http", "port must be a number from 0 to 65535, got 'http'"),
        ("65536", "port must be a number from 0 to 65535"),
        ("-1", "port must be a number from 0 to 65535"),
        ("127.0.0.1:", "port must be a number from 0 to 65535, got ''"),
        ("127.0.0.1:91OO", "got '91OO'"),
        ("٣", "port must be a number"),
        ("::1:9100", r"expected PORT, HOST:PORT or \[IPV6\]:PORT"),
        ("[::1]", r"expected PORT, HOST:PORT or \[IPV6\]:PORT"),
        ("[]:9100", "empty IPv6 address"),
    ],
)
def test_parse_http_address_rejects(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        parse_http_address(value)
    assert repr(value) in str(info.value)
