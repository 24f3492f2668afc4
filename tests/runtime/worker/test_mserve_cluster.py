"""Node failures in a 3-node RabbitMQ cluster, under load: nothing confirmed is lost.

A publisher with confirms (retrying on ``PublishConnectionError``, as docs/production.md shows,
with one message id per message) and two ``mserve`` workers on a quorum queue, all given the
three nodes' URLs. Meanwhile the node most worker connections are on is killed (``kill -9``)
and started again, then the other two are restarted one at a time (a rolling restart). Every
message the broker confirmed must be processed at least once; duplicates are reported, not
refused (at-least-once); a message never confirmed is never counted as sent. The figures are
in the run's summary ("cluster figures").
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import topology_setup as wiring
from mserve_harness import Mserve, mserve_environ, records, wait_until
from private_cluster import PrivateCluster

from mqwire.runtime import PublishError, Registry, load

pytestmark = [pytest.mark.private_broker, pytest.mark.private_cluster]

TOPOLOGY = """\
version: 1
connections:
  cluster:
    url: ["${NODE1_URL}", "${NODE2_URL}", "${NODE3_URL}"]
    heartbeat: 5
defaults:
  queues: {arguments: {x-queue-type: quorum}}  # its dead-letter queue is quorum too
publisher_consumers:
  work: {prefix: work.mq, transport: amqp, connection: cluster}
queues:
  fast: {consumer: work}
tasks:
  record: {task: "mserve_app:record", queue: fast}
"""

#: Seconds between two publishes: a steady load the two cores keep up with.
PACE = 0.01


@dataclass
class Load:
    """A publisher in a thread of its own, at-least-once: each message is retried, with the
    same id, until the broker confirms it."""

    registry: Registry
    confirmed: list[str] = field(default_factory=list)
    retries: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        publisher = self.registry.publisher("work")
        n = 0
        while not self.stop.is_set():
            body = {"id": str(n)}
            properties = {"content_type": "application/json", "message_id": f"m{n}"}
            while not self.stop.is_set():
                try:
                    publisher.publish(body=body, routing_key="fast", properties=properties)
                except PublishError:
                    self.retries += 1
                    time.sleep(0.2)  # a node is gone: the next attempt goes to the next one
                    continue
                self.confirmed.append(str(n))
                break
            n += 1
            time.sleep(PACE)


def worker_nodes(cluster: PrivateCluster) -> dict[str, int]:
    """How many of the workers' consuming connections each node holds."""
    counts: dict[str, int] = {}
    for node in cluster.nodes:
        if node.pid() is None or not node.accepts():
            continue
        for pid in wiring.connection_pids(node.ctl, "mserve:work"):
            name = cluster.node_of(pid).name
            counts[name] = counts.get(name, 0) + 1
        break  # one live node lists the whole cluster's connections
    return counts


def test_nothing_confirmed_is_lost_when_nodes_die_and_restart_under_load(
    private_cluster: PrivateCluster,
    tmp_path: Path,
    mqwire_worker: Callable[..., Mserve],
    report_figures: Callable[[str], None],
) -> None:
    cluster = private_cluster
    vhost = f"cluster-{uuid.uuid4().hex[:8]}"
    cluster.add_vhost(vhost)
    urls = cluster.urls(vhost)
    environ = {
        **mserve_environ(urls[0], tmp_path),
        **{f"NODE{n + 1}_URL": url for n, url in enumerate(urls)},
    }
    ini = wiring.compile_into(tmp_path, TOPOLOGY)
    log = tmp_path / "records.txt"
    workers = [mqwire_worker(ini, environ) for _ in range(2)]
    registry = load(ini, environ=environ)
    load_ = Load(registry)
    publishing = threading.Thread(target=load_.run, name="cluster-load", daemon=True)
    publishing.start()
    figures: dict[str, float] = {}

    def processed_grows_by(count: int, what: str, timeout: float = 90) -> float:
        """Seconds until ``count`` more messages were processed."""
        started, before = time.monotonic(), len(records(log, queue="fast"))
        wait_until(
            lambda: len(records(log, queue="fast")) >= before + count,
            timeout=timeout,
            what=what,
        )
        return time.monotonic() - started

    try:
        processed_grows_by(200, "the workers processing")
        on = worker_nodes(cluster)
        victim = next(n for n in cluster.nodes if n.name == max(on, key=lambda k: on[k]))
        victim.kill()
        figures["recovered after kill -9 (s)"] = processed_grows_by(50, "processing again")
        victim.start()
        cluster.wait_running(3)
        processed_grows_by(50, "processing after the node came back")
        for node in [n for n in cluster.nodes if n is not victim]:
            started = time.monotonic()
            cluster.restart(node)
            cluster.wait_running(3)
            processed_grows_by(50, f"processing after restarting {node.name}")
            figures[f"rolling restart of {node.name.split('@')[0][-10:]} (s)"] = (
                time.monotonic() - started
            )
    finally:
        load_.stop.set()
        publishing.join(30)
    confirmed = set(load_.confirmed)
    wait_until(
        lambda: confirmed <= set(records(log, queue="fast")),
        timeout=120,
        what="every confirmed message processed",
        detail=lambda: f"missing: {sorted(confirmed - set(records(log, queue='fast')))[:20]}",
    )
    for worker in workers:
        assert worker.stop() == 0
    registry.close()
    done = records(log, queue="fast")
    figures |= {
        "confirmed": len(confirmed),
        "processed": len(set(done)),
        "duplicates": len(done) - len(set(done)),
        "publish retries": load_.retries,
    }
    report_figures(", ".join(f"{k}: {v:g}" for k, v in figures.items()))
    assert set(done) <= confirmed | {str(len(load_.confirmed))}  # at most the one in flight
    assert len(confirmed) == len(load_.confirmed)  # each id confirmed once
