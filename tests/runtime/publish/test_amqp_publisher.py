"""The RabbitMQ publisher as applications get it from ``load()``, against the real broker.

The transport's own fault tests (nacks, timeouts, returns) are in amqp/test_transport.py;
these check what a web application relies on: one connection shared by its threads, clear
errors when the broker is away, and nothing reported as published missing from its queue.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import topology_setup as wiring

from mqwire.runtime import (
    BatchPublishError,
    PublishConnectionError,
    PublishError,
    Registry,
    Unroutable,
    load,
)
from mqwire.runtime.publish.base import BATCH_CHUNK

TOPOLOGY = """\
version: 1
connections:
  main: {url: "${AMQP_URL}"}
publisher_consumers:
  web:
    prefix: web.mq
    transport: amqp
    connection: main
queues:
  work: {consumer: web}
"""


@pytest.fixture(scope="module")
def ini(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return wiring.compile_into(tmp_path_factory.mktemp("publisher"), TOPOLOGY)


@pytest.fixture
def registry(ini: Path, vhost_url: str) -> Iterator[Registry]:
    with wiring.declared(ini, vhost_url) as registry:
        yield registry


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def publisher_connections(rabbitmqctl: Callable[..., str]) -> list[str]:
    return wiring.connection_pids(rabbitmqctl, "mqwire-publisher:web")


def test_threads_of_a_web_server_share_one_connection(
    registry: Registry, vhost_url: str, rabbitmqctl: Callable[..., str]
) -> None:
    publisher = registry.publisher("web")
    ids: list[str] = []
    lock = threading.Lock()

    def serve_requests() -> None:
        for n in range(50):
            message_id = publisher.publish(body={"n": n}, routing_key="work")
            with lock:
                ids.append(message_id)

    threads = [threading.Thread(target=serve_requests) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(set(ids)) == 400
    assert len(publisher_connections(rabbitmqctl)) == 1
    assert wiring.counts(vhost_url, ["work"]) == {"work": 400}


def test_a_batch_of_several_chunks_is_pipelined_and_reports_the_one_unroutable_message(
    registry: Registry, vhost_url: str
) -> None:
    publisher = registry.publisher("web")
    total = 2 * BATCH_CHUNK + 7  # three chunks, two of them awaiting confirms at once

    with pytest.raises(BatchPublishError) as raised, publisher.batch():
        for n in range(total):
            routing_key = "nowhere" if n == BATCH_CHUNK + 3 else "work"
            publisher.publish(body={"n": n}, routing_key=routing_key, mandatory=True)

    (index, error), *more = raised.value.failures
    assert (index, type(error), more) == (BATCH_CHUNK + 3, Unroutable, [])
    assert raised.value.published == total - 1
    assert wiring.counts(vhost_url, ["work"]) == {"work": total - 1}


def test_a_connection_closed_by_the_broker_is_reopened_and_nothing_confirmed_is_lost(
    registry: Registry, vhost_url: str, rabbitmqctl: Callable[..., str]
) -> None:
    publisher = registry.publisher("web")
    confirmed = [publisher.publish(body={"n": n}, routing_key="work") for n in range(20)]
    (pid,) = publisher_connections(rabbitmqctl)
    failed = 0
    closer = threading.Thread(
        target=rabbitmqctl, args=("close_connection", pid, "test: connection closed")
    )
    closer.start()
    for n in range(20, 400):
        try:
            confirmed.append(publisher.publish(body={"n": n}, routing_key="work"))
        except PublishConnectionError:
            failed += 1  # lost with the connection, and said so: the caller may retry
    closer.join()
    confirmed.append(publisher.publish(body={"n": "after"}, routing_key="work"))

    (new_pid,) = publisher_connections(rabbitmqctl)
    assert new_pid != pid
    assert len(confirmed) + failed == 401
    outcomes = wiring.deliver(vhost_url, registry, ["work"])
    received = {delivery.message_id for delivery, _ in outcomes}
    assert set(confirmed) <= received


def test_an_unreachable_broker_is_a_connection_error_naming_no_password(
    ini: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"amqp://app:s3cr3t-pw@127.0.0.1:{closed_port()}/%2F"
    caplog.set_level(logging.DEBUG, logger="mqwire")
    registry = load(ini, environ={"AMQP_URL": url})
    with registry, pytest.raises(PublishConnectionError) as raised:
        registry.publisher("web").publish(body={"n": 1}, routing_key="work")

    assert "s3cr3t-pw" not in str(raised.value)
    assert "app:***@127.0.0.1" in str(raised.value)
    assert "s3cr3t-pw" not in caplog.text


def test_wrong_credentials_are_a_publish_error_naming_no_password(
    ini: Path, amqp_url: str, vhost_url: str
) -> None:
    url = vhost_url.replace("guest:guest@", "guest:n0t-the-pw@")
    registry = load(ini, environ={"AMQP_URL": url})
    with registry, pytest.raises(PublishError) as raised:
        registry.publisher("web").publish(body={"n": 1}, routing_key="work")

    assert "n0t-the-pw" not in str(raised.value)
    assert "ACCESS_REFUSED" in str(raised.value) or "credentials" in str(raised.value).lower()
