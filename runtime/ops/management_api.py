"""The HTTP edge of ``mqctl``: RabbitMQ's management API, with the stdlib only.

AMQP cannot report unacknowledged counts nor list bindings; the management plugin's HTTP API
can. ``mqctl`` uses it when it answers and falls back to AMQP alone when it does not, so every
failure here is one :class:`ManagementUnavailable` whose message never holds a password.
Its HTTP is a plain HTTP/1.0 exchange on a socket (``_exchange``), not ``urllib.request`` nor
``http.client``: it follows no redirect (a redirect would carry the credentials to whatever host
it names), and ``mserve``'s start-up check loads this module into every long-lived worker, where
``http.client`` and the ``email`` package it imports would stay resident (0.8 MiB), and
``urllib.request`` 2.5 MiB. One request per connection, ``Connection: close``; the answer is
read to its end under one deadline and must be as long as its ``Content-Length`` says.
"""

from __future__ import annotations

import base64
import json
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import SplitResult, quote, unquote, urlsplit

from mqwire.topology.amqp_url import split_urls
from mqwire.topology.credentials import mask_resolved_url

from ..errors import ManagementUnavailable
from ..tls import TlsSettings, client_context

#: Seconds to wait for one answer of the management API.
TIMEOUT = 5.0
#: The AMQP ports a management endpoint is derived for: the broker's defaults.
_DEFAULT_PORTS = {"amqp": (5672, 15672, "http"), "amqps": (5671, 15671, "https")}


@dataclass(frozen=True)
class Endpoint:
    """Where the management API is, who to be, which vhost to read, and how it was chosen."""

    base_url: str  #: scheme://host:port[/path], without credentials
    user: str
    password: str
    vhost: str
    origin: str = "given by --management-url"
    #: The AMQP connection's TLS settings: the same CA, client certificate and ``verify``.
    tls: TlsSettings | None = None
    #: The name its certificate must be for, when not its host (``tls.server_hostname``).
    server_hostname: str | None = None

    @property
    def masked(self) -> str:
        parts = urlsplit(self.base_url)
        netloc = f"{self.user}:***@{parts.netloc}" if self.user else parts.netloc
        return mask_resolved_url(parts._replace(netloc=netloc).geturl())


def endpoint(
    amqp_url: str, management_url: str | None = None, tls: TlsSettings | None = None
) -> Endpoint:
    """The management endpoint for a broker URL and its TLS settings (pure).

    Without ``management_url``: ``http://HOST:15672`` (``https://HOST:15671`` for ``amqps``),
    but only for a broker on AMQP's default port. A broker elsewhere is another node or a
    forwarded port whose management API may be anywhere; guessing once sent a topology's
    credentials to the wrong broker. Credentials come from ``management_url`` when it has
    them, else from the AMQP URL (``guest``/``guest`` when it has none, as pika assumes); the
    vhost always from the AMQP URL. Over https, its certificate is checked as the AMQP
    connection's ``tls`` says, against ``tls.server_hostname`` when it is on the AMQP host.

    For a cluster's URLs, the first node's API (every node's shows the whole cluster).

    Raises:
        ManagementUnavailable: no ``management_url``, and the AMQP port is not the default.
    """
    amqp_url = (split_urls(amqp_url) or [""])[0]
    amqp = urlsplit(amqp_url)
    vhost = unquote(amqp.path[1:]) if len(amqp.path) > 1 else "/"
    user, password = unquote(amqp.username or "guest"), unquote(amqp.password or "guest")
    if management_url is None:
        amqp_port, port, scheme = _DEFAULT_PORTS.get(amqp.scheme, _DEFAULT_PORTS["amqp"])
        if amqp.port not in (None, amqp_port):
            raise ManagementUnavailable(
                f"management API: the broker {mask_resolved_url(amqp_url)} is not on AMQP's "
                f"default port {amqp_port}, so where its management API listens is unknown; "
                "give --management-url"
            )
        host = amqp.hostname or "localhost"
        host = f"[{host}]" if ":" in host else host
        base = f"{scheme}://{host}:{port}"
        origin = "derived from the AMQP URL's host"
    else:
        given = urlsplit(management_url)
        if given.username is not None:
            user, password = unquote(given.username), unquote(given.password or "")
        hostport = given.netloc.rpartition("@")[2]
        base = given._replace(netloc=hostport, query="", fragment="").geturl().rstrip("/")
        origin = Endpoint.origin
    same_host = urlsplit(base).hostname == (amqp.hostname or "localhost")
    name = tls.server_hostname if tls and same_host else None
    return Endpoint(base, user, password, vhost, origin, tls, name)


@dataclass(frozen=True)
class QueueStats:
    """One queue as the management API reports it; ``None`` where it has no figure yet."""

    ready: int | None
    unacked: int | None
    consumers: int | None


@dataclass(frozen=True)
class LiveBinding:
    """A binding on the broker: ``exchange`` -> ``destination`` with ``routing_key``."""

    exchange: str
    destination: str
    routing_key: str
    destination_type: str = "queue"
    #: The binding's arguments: an unbind must give them to match it.
    arguments: Mapping[str, Any] = field(default_factory=dict, hash=False)


class ManagementApi:
    """Calls on one vhost of the management API: mqctl's are read-only (GET)."""

    def __init__(self, where: Endpoint, timeout: float = TIMEOUT) -> None:
        self.endpoint = where
        self._timeout = timeout
        token = base64.b64encode(f"{where.user}:{where.password}".encode()).decode("ascii")
        self._headers = {"Authorization": f"Basic {token}", "Accept": "application/json"}

    def _get(self, path: str) -> Any:
        body = self._request("GET", path)
        try:
            return json.loads(body)
        except ValueError as exc:
            raise ManagementUnavailable(f"{self._where}: not JSON: {exc}") from None

    @property
    def _where(self) -> str:
        return f"management API at {self.endpoint.masked}"

    def _request(self, method: str, path: str, payload: Any = None) -> bytes:
        """One call; its body when the status is 2xx. ``payload`` is sent as JSON.

        mqctl only reads (GET); the pytest plugin's throw-away vhosts also PUT and DELETE.
        """
        base = urlsplit(self.endpoint.base_url)
        where = self._where
        headers = dict(self._headers)
        data = b""
        if payload is not None:
            data = json.dumps(payload).encode()
            headers["Content-Type"] = "application/json"
        try:
            context = client_context(self.endpoint.tls) if base.scheme == "https" else None
            raw = _exchange(
                base, f"{method} {base.path + path}", headers, data, self._timeout,
                context, self.endpoint.server_hostname,
            )  # fmt: skip
            response = _Response.parse(raw)
        except (OSError, UnicodeError, _BadResponse) as exc:
            raise ManagementUnavailable(f"{where}: {type(exc).__name__}: {exc}") from None
        if 300 <= response.status < 400:
            location = response.headers.get("location") or "?"
            raise ManagementUnavailable(
                f"{where} redirected (HTTP {response.status}) to "
                f"{mask_resolved_url(location)}; credentials are never sent on: give "
                "--management-url with the address that answers"
            )
        if not 200 <= response.status < 300:
            raise ManagementUnavailable(f"{where}: HTTP {response.status} {response.reason}")
        return response.body

    def _vhost_path(self, kind: str) -> str:
        return f"/api/{kind}/{quote(self.endpoint.vhost, safe='')}"

    def queues(self) -> dict[str, QueueStats]:
        """Every queue of the vhost by name (the figures lag the broker by a few seconds)."""
        found: dict[str, QueueStats] = {}
        for item in _listing(self._get(self._vhost_path("queues"))):
            found[str(item.get("name"))] = QueueStats(
                _count(item.get("messages_ready")),
                _count(item.get("messages_unacknowledged")),
                _count(item.get("consumers")),
            )
        return found

    def bindings(self) -> list[LiveBinding]:
        """Every binding of the vhost, the default exchange's included (``exchange`` "")."""
        return [
            LiveBinding(
                str(item.get("source", "")),
                str(item.get("destination", "")),
                str(item.get("routing_key", "")),
                str(item.get("destination_type", "queue")),
                item["arguments"] if isinstance(item.get("arguments"), dict) else {},
            )
            for item in _listing(self._get(self._vhost_path("bindings")))
        ]


def _exchange(
    base: SplitResult,
    request_line: str,
    headers: Mapping[str, str],
    body: bytes,
    timeout: float,
    context: ssl.SSLContext | None,
    server_hostname: str | None,
) -> bytes:
    """Send one HTTP/1.0 request to ``base``'s host and read the whole answer: connecting and
    reading share one ``timeout``. Over TLS (``context``), the certificate must be for
    ``server_hostname`` when given, else for the host."""
    deadline = time.monotonic() + timeout
    host = base.hostname or "localhost"
    port = base.port or (443 if context is not None else 80)
    netloc = base.netloc if base.netloc.isascii() else base.netloc.encode("idna").decode()
    lines = [f"{request_line} HTTP/1.0", f"Host: {netloc}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines += [f"Content-Length: {len(body)}"] if body else []
    with socket.create_connection((host, port), timeout=timeout) as plain:
        plain.settimeout(max(deadline - time.monotonic(), 0.001))  # the TLS handshake's
        with (
            context.wrap_socket(plain, server_hostname=server_hostname or host)
            if context is not None
            else plain
        ) as sock:
            sock.sendall("\r\n".join([*lines, "", ""]).encode("latin-1") + body)
            chunks: list[bytes] = []
            while True:
                sock.settimeout(max(deadline - time.monotonic(), 0.001))
                chunk = sock.recv(65536)
                if not chunk:
                    return b"".join(chunks)
                chunks.append(chunk)


class _BadResponse(Exception):
    """The answer is not a whole HTTP response."""


@dataclass(frozen=True)
class _Response:
    status: int
    reason: str
    headers: Mapping[str, str]  #: by lower-case name
    body: bytes

    @classmethod
    def parse(cls, raw: bytes) -> _Response:
        """The response in ``raw``, the bytes a server sent before it closed the connection."""
        if not raw:
            raise _BadResponse("the connection closed without a response")
        head, end, body = raw.partition(b"\r\n\r\n")
        if not end:
            raise _BadResponse("the connection closed in the middle of the response's headers")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        version, _, rest = status_line.partition(" ")
        code, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/") or not (len(code) == 3 and code.isdigit()):
            raise _BadResponse(f"not an HTTP status line: {status_line[:80]!r}")
        headers: dict[str, str] = {}
        for line in lines:
            name, colon, value = line.partition(":")
            if colon:
                headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "identity").lower() != "identity":
            raise _BadResponse(f"unexpected Transfer-Encoding: {headers['transfer-encoding']}")
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                raise _BadResponse(f"bad Content-Length: {length[:40]!r}")
            if len(body) < int(length):
                raise _BadResponse(f"the connection closed after {len(body)} of {length} bytes")
            body = body[: int(length)]
        return cls(int(code), reason.strip(), headers, body)


def _listing(data: Any) -> list[dict[str, Any]]:
    if not isinstance(data, list):
        raise ManagementUnavailable("the management API answered something other than a list")
    return [item for item in data if isinstance(item, dict)]


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
