"""A cluster's nodes: each process starts at one, and a connection that fails moves on.

The real three-node cluster is a private-node test; here one node of the shared broker stands
beside a port where nothing listens, which is what a dead node looks like to a client.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from urllib.parse import urlsplit

import pika  # type: ignore[import-untyped]
import pytest
from topology_setup import dead_node

from mqwire.runtime.amqp.admin import Admin
from mqwire.runtime.amqp.nodes import Nodes
from mqwire.runtime.amqp.transport import AmqpTransport
from mqwire.runtime.errors import PublishConnectionError
from mqwire.runtime.wire import WireMessage
from mqwire.topology.amqp_url import QUERY_KEYS

CLUSTER = "amqp://app:pw1@rabbit1:5672/prod amqp://app:pw2@rabbit2:5672/prod"


def test_the_url_parameters_checked_at_compile_time_are_the_ones_pika_reads() -> None:
    pikas = {n[len("_set_url_") :] for n in dir(pika.URLParameters) if n.startswith("_set_url_")}
    assert pikas == QUERY_KEYS


def test_a_connection_moves_from_node_to_node_and_names_each_masked() -> None:
    nodes = Nodes(CLUSTER, name="t", first=1)
    assert len(nodes) == 2
    assert (nodes.current.host, nodes.where) == ("rabbit2", "amqp://app:***@rabbit2:5672/prod")
    nodes.move_on()
    assert nodes.current.host == "rabbit1"
    nodes.move_on()
    assert nodes.current.host == "rabbit2"
    assert nodes.current.client_properties["connection_name"] == "t"


def test_processes_start_at_random_nodes_so_a_fleet_spreads_over_the_cluster() -> None:
    starts = {Nodes(CLUSTER, name="t").current.host for _ in range(64)}
    assert starts == {"rabbit1", "rabbit2"}  # all 64 on one node: a chance of 2**-63


@pytest.fixture
def queue(vhost_url: str, unique_name: str) -> Iterator[str]:
    with pika.BlockingConnection(pika.URLParameters(vhost_url)) as connection:
        connection.channel().queue_declare(unique_name, auto_delete=True)
        yield unique_name


def message(queue: str) -> WireMessage:
    return WireMessage("", queue, b"{}", "m1", properties={})


@pytest.mark.parametrize("first_node", [0, 1])
def test_a_publisher_publishes_through_the_node_that_answers(
    vhost_url: str, queue: str, first_node: int, caplog: pytest.LogCaptureFixture
) -> None:
    dead = dead_node(vhost_url)
    transport = AmqpTransport(
        f"{dead} {vhost_url}", name="cluster-test", connect_timeout=5, first_node=first_node
    )
    caplog.set_level(logging.INFO, "mqwire.publisher")
    try:
        assert transport.send([message(queue)]) == [None]
    finally:
        transport.close()
    port = urlsplit(vhost_url).port
    assert f"connected to amqp://guest:***@127.0.0.1:{port}/" in caplog.text
    tried_dead = f"could not connect to amqp://guest:***@127.0.0.1:{urlsplit(dead).port}"
    assert (tried_dead in caplog.text) == (first_node == 0)
    assert "guest:guest" not in caplog.text


def test_when_no_node_answers_the_message_fails_unsent(vhost_url: str, queue: str) -> None:
    urls = f"{dead_node(vhost_url)} {dead_node(vhost_url)}"
    transport = AmqpTransport(urls, name="cluster-test", connect_timeout=5, first_node=0)
    try:
        (outcome,) = transport.send([message(queue)])
    finally:
        transport.close()
    assert isinstance(outcome, PublishConnectionError)
    assert "the message was not sent" in str(outcome) and not outcome.outcome_unknown


def test_mqctl_takes_the_first_node_that_answers_and_says_which(vhost_url: str, queue: str) -> None:
    told: list[str] = []
    with Admin(f"{dead_node(vhost_url)} {vhost_url}", on_node=told.append) as broker:
        assert broker.probe_queue(queue).exists
    port = urlsplit(vhost_url).port
    assert len(told) == 1 and f"guest:***@127.0.0.1:{port}/" in told[0]
