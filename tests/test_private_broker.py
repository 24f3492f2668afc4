"""The private nodes of destructive tests do what ``private_broker.py`` says they do."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pika  # type: ignore[import-untyped]
import pytest
from private_broker import BASE, PrivateNode, process_identity, stop_leftovers, stop_node

pytestmark = pytest.mark.private_broker

HERE = Path(__file__).parent


def publish_one(url: str) -> None:
    """One confirmed publish to the default exchange; pika raises if the broker blocks it."""
    parameters = pika.URLParameters(url)
    parameters.blocked_connection_timeout = 2
    with pika.BlockingConnection(parameters) as connection:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish("", "nowhere", b"x")


@pytest.mark.parametrize("alarm", ["memory_alarm", "disk_alarm"])
def test_an_alarm_blocks_publishing_on_the_private_node_only_while_it_lasts(
    private_node: PrivateNode, alarm: str
) -> None:
    url = private_node.url()
    publish_one(url)
    with getattr(private_node, alarm)():
        assert "resource_limit" in private_node.alarms()
        with pytest.raises(pika.exceptions.ConnectionBlockedTimeout):
            publish_one(url)
    assert private_node.alarms() == "[]"
    publish_one(url)


def test_a_node_takes_its_own_rabbitmq_conf_and_is_gone_after_stop(
    make_private_node: Callable[..., PrivateNode],
) -> None:
    node = make_private_node("conf", conf=["consumer_timeout = 5000"])
    assert node.ctl("eval", "application:get_env(rabbit, consumer_timeout).").strip() == (
        "{ok,5000}"
    )
    assert node.port != 5672 and node.accepts()
    pid = node.pid()
    assert pid is not None and node.folder.is_dir()
    node.stop()
    assert process_identity(pid) is None and not node.folder.exists()


def test_leftovers_of_a_killed_run_are_stopped_and_those_of_a_live_run_kept(
    private_node: PrivateNode,
) -> None:
    script = textwrap.dedent(
        """
        import os, signal
        from private_broker import PrivateNode
        node = PrivateNode("leftover")
        node.start()
        print(node.folder, node.pid(), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)  # a test run killed without its finalisers
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=HERE, capture_output=True, text=True, timeout=120
    )
    folder, pid = done.stdout.split()
    assert Path(folder).parent == BASE and process_identity(int(pid)), done.stderr
    try:
        stopped = stop_leftovers()
    finally:  # should stop_leftovers fail: still no node left behind
        stop_node(Path(folder), f"{Path(folder).name}@localhost")
    assert Path(folder).name in stopped
    assert process_identity(int(pid)) is None and not Path(folder).exists()
    assert private_node.folder.name not in stopped, "this run's own node is kept"
    assert private_node.accepts()
