"""The worker's ``--http`` endpoint: liveness and readiness probes and Prometheus metrics."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

import tornado.httpserver
import tornado.netutil
import tornado.web
from tornado.log import access_log

#: ``() -> (ok, text)``: readiness for ``/readyz``, liveness for ``/healthz``.
Readiness = Callable[[], tuple[bool, str]]
#: ``() -> text``: every metric in the Prometheus text format, for ``/metrics``.
Render = Callable[[], str]

METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_ADDRESS = re.compile(r"(?:(?P<host>\[[^\]]*\]|[^:\[\]]*):)?(?P<port>[^:]*)")


#: Where ``--http PORT`` listens when no host is given.
LOOPBACK = "127.0.0.1"


def parse_http_address(value: str) -> tuple[str, int]:
    """``PORT``, ``HOST:PORT`` or ``[IPV6]:PORT`` -> (host, port); port 0 picks a free one.

    Without a host the endpoint listens on loopback only: ``/metrics`` tells anyone who can
    reach it what the worker does. ``0.0.0.0:PORT`` (or ``[::]:PORT``) opens it to the network,
    as a container's probes need.
    """
    match = _ADDRESS.fullmatch(value.strip())
    if match is None:
        raise ValueError(f"invalid HTTP address {value!r}: expected PORT, HOST:PORT or [IPV6]:PORT")
    host, port = match["host"] or LOOPBACK, match["port"]
    if host.startswith("["):
        host = host[1:-1]
        if not host:
            raise ValueError(f"invalid HTTP address {value!r}: empty IPv6 address in brackets")
    if not re.fullmatch(r"[0-9]{1,5}", port) or int(port) > 65535:
        raise ValueError(
            f"invalid HTTP address {value!r}: port must be a number from 0 to 65535, got {port!r}"
        )
    return host, int(port)


class _Text(tornado.web.RequestHandler):
    def reply(
        self, status: int, body: str, content_type: str = "text/plain; charset=utf-8"
    ) -> None:
        self.set_status(status)
        self.set_header("Content-Type", content_type)
        self.set_header("Cache-Control", "no-store")
        self.finish(body)


class _Healthz(_Text):
    def initialize(self, liveness: Readiness) -> None:
        self.liveness = liveness

    def get(self) -> None:
        alive, text = self.liveness()
        self.reply(200 if alive else 503, f"{text or ('ok' if alive else 'unhealthy')}\n")


class _Readyz(_Text):
    def initialize(self, readiness: Readiness) -> None:
        self.readiness = readiness

    def get(self) -> None:
        ready, reason = self.readiness()
        if ready:
            self.reply(200, "ready\n")
        else:
            self.reply(503, f"{reason or 'not ready'}\n")


def _alive() -> tuple[bool, str]:
    return True, "ok"


class _Metrics(_Text):
    def initialize(self, text: Render) -> None:
        self.text = text

    def get(self) -> None:
        self.reply(200, self.text(), METRICS_CONTENT_TYPE)


def _log_request(handler: tornado.web.RequestHandler) -> None:
    """Probes and scrapes arrive every few seconds: successes, and not-ready, stay quiet."""
    status, request = handler.get_status(), handler.request
    if status < 400:
        level = logging.DEBUG
    elif status == 503 and isinstance(handler, _Readyz):
        level = logging.INFO
    elif status == 503 and isinstance(handler, _Healthz):
        level = logging.WARNING  # the reason was logged once, as an error, when it happened
    else:
        level = logging.WARNING if status < 500 else logging.ERROR
    access_log.log(
        level,
        "%d %s %s (%s) %.2fms",
        status,
        request.method,
        request.uri,
        request.remote_ip,
        1000.0 * request.request_time(),
    )


def start_status_server(
    address: tuple[str, int] | str,
    metrics: Render,
    readiness: Readiness,
    liveness: Readiness = _alive,
) -> tuple[tornado.httpserver.HTTPServer, int]:
    """Serves /healthz, /readyz and /metrics (``metrics()``'s text); call on the running
    IOLoop's thread. ``address`` is (host, port), or the path of a unix socket (a process
    group's child, which only its supervisor asks).

    ``/healthz`` is 503 when ``liveness`` says so: the process needs a restart.

    Returns the server (``stop()`` it, then ``close_all_connections()``) and the bound port
    (0 for a unix socket).
    """
    app = tornado.web.Application(
        [
            (r"/healthz", _Healthz, {"liveness": liveness}),
            (r"/readyz", _Readyz, {"readiness": readiness}),
            (r"/metrics", _Metrics, {"text": metrics}),
        ],
        log_function=_log_request,
    )
    server = tornado.httpserver.HTTPServer(app)
    if isinstance(address, str):
        server.add_socket(tornado.netutil.bind_unix_socket(address, mode=0o600))
        return server, 0
    host, port = address
    sockets = tornado.netutil.bind_sockets(port, address=host)
    server.add_sockets(sockets)
    return server, int(sockets[0].getsockname()[1])
