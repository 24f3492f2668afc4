"""A RabbitMQ cluster of three private nodes, for the tests of node failures.

Three ``PrivateNode``s (own names, ports and folders, the shared Erlang cookie) boot side by
side, then nodes 2 and 3 join node 1 (``stop_app``, ``join_cluster``, ``start_app``): 20-35 s
on two cores. A killed node started again rejoins by itself. The tests are marked
``private_cluster``: a plain local ``make test`` skips them unless ``MQWIRE_TEST_CLUSTER=1``,
and CI (``CI`` set) always runs them, failing where RabbitMQ cannot run.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from private_broker import PrivateNode

from mqwire.testing import wait_until

SIZE = 3
#: Figures the cluster tests report, shown at the end of every run (passed tests included).
FIGURES = pytest.StashKey[list[str]]()


class PrivateCluster:
    """Three private nodes joined into one cluster; ``nodes[0]`` is the one the others joined."""

    def __init__(self, purpose: str, size: int = SIZE) -> None:
        self.nodes = [PrivateNode(f"{purpose}-{n + 1}") for n in range(size)]

    def start(self) -> None:
        failures: list[BaseException] = []

        def boot(node: PrivateNode) -> None:
            try:
                node.start()
            except BaseException as exc:  # reported below, from this thread
                failures.append(exc)

        threads = [threading.Thread(target=boot, args=(node,)) for node in self.nodes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if failures:
            raise failures[0]
        first = self.nodes[0]
        for node in self.nodes[1:]:
            node.ctl("stop_app")
            node.ctl("join_cluster", first.name)
            node.start_app()
        self.wait_running(len(self.nodes))

    def stop(self) -> None:
        for node in reversed(self.nodes):
            node.stop()

    def running(self) -> list[str]:
        """The names of the cluster's running nodes, as node 1 (or the first that answers)
        sees them."""
        for node in self.nodes:
            if node.pid() is None:
                continue
            try:
                status = json.loads(node.ctl("cluster_status", "--formatter", "json"))
            except Exception:  # a node on its way up or down: ask the next one
                continue
            return sorted(status.get("running_nodes", []))
        return []

    def wait_running(self, count: int, timeout: float = 120) -> None:
        wait_until(
            lambda: len(self.running()) == count,
            timeout=timeout,
            what=f"{count} running nodes in the cluster",
        )

    def urls(self, vhost: str) -> list[str]:
        return [node.url(vhost) for node in self.nodes]

    def add_vhost(self, vhost: str) -> None:
        """A vhost of the cluster (made through node 1, seen by every node)."""
        first = self.nodes[0]
        first.ctl("add_vhost", vhost)
        first.ctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")

    def node_of(self, pid_text: str) -> PrivateNode:
        """The node a connection (its pid as ``list_connections`` shows it) is on."""
        for node in self.nodes:
            if node.name in pid_text:
                return node
        raise LookupError(f"no node of this cluster in {pid_text!r}")

    def restart(self, node: PrivateNode) -> None:
        """A graceful restart (``rabbitmqctl stop``, then start again with its data)."""
        pid = node.pid()
        node.ctl("stop")
        if pid is not None:
            wait_until(lambda: node.pid() is None, timeout=60, what=f"{node.name} to stop")
        node.start()


@pytest.fixture(scope="module")
def private_cluster(
    private_nodes_available: None, request: pytest.FixtureRequest
) -> Iterator[PrivateCluster]:
    """A three-node cluster for one test module (started once; tests restore what they kill)."""
    if not os.environ.get("CI") and os.environ.get("MQWIRE_TEST_CLUSTER") != "1":
        pytest.skip("the 3-node cluster test runs in CI, or with MQWIRE_TEST_CLUSTER=1")
    cluster = PrivateCluster(request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_"))
    request.addfinalizer(cluster.stop)  # first: a start that fails halfway is cleaned up too
    cluster.start()
    yield cluster


@pytest.fixture
def report_figures(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """``report_figures(line)``: a line shown in the run's summary, even when the test passes
    (CI's log shows what a node failure cost)."""
    lines = request.config.stash.setdefault(FIGURES, [])
    return lambda line: lines.append(f"{request.node.name}: {line}")


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    lines = config.stash.get(FIGURES, [])
    if lines:
        terminalreporter.section("cluster figures")
        for line in lines:
            terminalreporter.write_line(line)
