"""``mserve`` on a connection that lists a cluster's nodes: it consumes through the node that
answers, whichever it tried first, and says which node that is.

A port where nothing listens stands for a dead node beside the shared broker's one node; the
three-node cluster with real node failures is a private-node test.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import topology_setup as wiring
from mserve_harness import Mserve, mserve_environ, records, wait_until

from mqwire.runtime import load

pytestmark = pytest.mark.broker

TOPOLOGY = """\
version: 1
connections:
  cluster:
    url: ["${DEAD_NODE_URL}", "${AMQP_URL}"]
publisher_consumers:
  work: {prefix: work.mq, transport: amqp, connection: cluster}
queues:
  fast: {consumer: work}
tasks:
  record: {task: "mserve_app:record", queue: fast}
"""


def test_mserve_consumes_through_the_node_that_answers_and_names_it(
    tmp_path: Path, fresh_vhost_url: str, mqwire_worker: Callable[..., Mserve]
) -> None:
    ini = wiring.compile_into(tmp_path, TOPOLOGY)
    dead = wiring.dead_node(fresh_vhost_url)
    environ = {**mserve_environ(fresh_vhost_url, tmp_path), "DEAD_NODE_URL": dead}
    registry = load(ini, environ=environ)
    try:
        worker = mqwire_worker(ini, environ)
        publisher = registry.publisher("work")
        for n in range(20):
            publisher.publish(body={"id": n}, routing_key="fast")
        ids = {str(n) for n in range(20)}
        log = tmp_path / "records.txt"
        wait_until(lambda: set(records(log, queue="fast")) >= ids, timeout=30, what="every message")
    finally:
        registry.close()
    live = re.escape(fresh_vhost_url.replace("guest:guest@", "guest:***@"))
    assert re.search(rf"consuming .* from {live}", worker.output())
    assert "guest:guest@" not in worker.output()
