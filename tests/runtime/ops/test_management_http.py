"""The management API's HTTP: one HTTP/1.0 exchange on a socket, against the real API and
against a hand-written server that answers what a broken or hostile one could."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pika
import pytest

from mqwire.runtime.errors import ManagementUnavailable
from mqwire.runtime.ops.management_api import LiveBinding, ManagementApi, endpoint


def test_bindings_and_queues_come_from_the_real_api(management: str, fresh_vhost_url: str) -> None:
    with pika.BlockingConnection(pika.URLParameters(fresh_vhost_url)) as connection:
        channel = connection.channel()
        channel.exchange_declare("ev", "topic")
        channel.queue_declare("q")
        channel.queue_bind("q", "ev", "a.#", arguments={"x-note": "kept"})
    api = ManagementApi(endpoint(fresh_vhost_url, management))
    assert LiveBinding("ev", "q", "a.#", "queue", {"x-note": "kept"}) in api.bindings()
    assert set(api.queues()) == {"q"}


def test_refused_credentials_and_unknown_vhosts_are_one_clear_error(
    management: str, fresh_vhost_url: str
) -> None:
    wrong = fresh_vhost_url.replace("guest:guest", "guest:wrong")
    with pytest.raises(ManagementUnavailable, match="HTTP 401 Unauthorized") as raised:
        ManagementApi(endpoint(wrong, management)).queues()
    assert "wrong" not in str(raised.value)
    gone = fresh_vhost_url.rsplit("/", 1)[0] + "/no-such-vhost-here"
    with pytest.raises(ManagementUnavailable, match="HTTP 404 Not Found"):
        ManagementApi(endpoint(gone, management)).bindings()


class OneShot:
    """A loopback server that reads one request and answers ``reply`` (or nothing, until
    closed), then closes the connection."""

    def __init__(self, reply: bytes | None) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.request = b""
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, args=(reply,), daemon=True)
        self.thread.start()

    def _serve(self, reply: bytes | None) -> None:
        connection, _ = self.listener.accept()
        with connection:
            while b"\r\n\r\n" not in self.request:
                self.request += connection.recv(4096)
            if reply is None:
                self.done.wait()
            else:
                connection.sendall(reply)

    def close(self) -> None:
        self.done.set()
        self.thread.join()
        self.listener.close()


@pytest.fixture
def serve() -> Iterator[list[OneShot]]:
    servers: list[OneShot] = []
    yield servers
    for server in servers:
        server.close()


def answered(serve: list[OneShot], reply: bytes | None, timeout: float = 5.0) -> list[LiveBinding]:
    server = OneShot(reply)
    serve.append(server)
    api = ManagementApi(endpoint("amqp://app:secret@127.0.0.1/shop", server.url), timeout)
    return api.bindings()


OK = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
BODY = b'[{"source":"ev","destination":"q","routing_key":"k","arguments":{}}]'


def test_one_http_1_0_request_with_credentials_and_no_keep_alive(serve: list[OneShot]) -> None:
    assert answered(serve, OK + b"\r\n" + BODY) == [LiveBinding("ev", "q", "k")]
    head = serve[0].request.decode().split("\r\n")
    assert head[0] == "GET /api/bindings/shop HTTP/1.0"
    assert f"Host: {serve[0].url.removeprefix('http://')}" in head
    assert "Connection: close" in head
    assert "Authorization: Basic YXBwOnNlY3JldA==" in head  # app:secret


def test_content_length_bounds_the_body(serve: list[OneShot]) -> None:
    reply = OK + f"Content-Length: {len(BODY)}\r\n\r\n".encode() + BODY + b"trailing junk"
    assert answered(serve, reply) == [LiveBinding("ev", "q", "k")]


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (OK + b"Content-Length: 500\r\n\r\n" + BODY, f"closed after {len(BODY)} of 500 bytes"),
        (OK + b"Content-Length: -1\r\n\r\n" + BODY, "bad Content-Length"),
        (OK + b"Transfer-Encoding: chunked\r\n\r\n5\r\n[1,2]\r\n0\r\n\r\n", "chunked"),
        (OK + b"content-type: application/js", "in the middle of the response's headers"),
        (b"", "closed without a response"),
        (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", "not an HTTP status line: 'SSH-2.0-OpenSSH_9.6'"),
        (b"HTTP/1.1 503 Service Unavailable\r\n\r\n", "HTTP 503 Service Unavailable"),
        (OK + b"\r\n<html>", "not JSON"),
        (None, "timed out"),  # a server that never answers
    ],
)
def test_a_broken_answer_is_one_clear_error_without_the_password(
    serve: list[OneShot], reply: bytes | None, error: str
) -> None:
    with pytest.raises(ManagementUnavailable) as raised:
        answered(serve, reply, timeout=0.5)
    assert error in str(raised.value)
    assert "secret" not in str(raised.value)
    assert str(raised.value).startswith("management API at http://app:***@127.0.0.1:")


def test_nothing_listening_is_one_clear_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
    api = ManagementApi(endpoint("amqp://app:secret@127.0.0.1/", f"http://127.0.0.1:{port}"))
    with pytest.raises(ManagementUnavailable, match="ConnectionRefusedError"):
        api.queues()
