"""``mserve`` and the broker's consumer timeout, on a private node (it is a node-wide setting).

The node closes a channel whose oldest delivery stays unacked for 2 s (``consumer_timeout``),
checked every 0.5 s (``channel_tick_interval``; a minute by default on 3.10). Queue ``a``'s task
has no ``timeout:`` and works 5 s; queue ``b`` flows beside it the whole time. Seen before:
``a``'s message ran again at every redelivery, for ever, and its 406 closed the whole connection,
redelivering ``b``'s in-flight messages. Wanted, and checked here: ``a``'s channel alone is
reopened, ``b`` sees no redelivery and no pause, and ``a``'s message runs as many times as its
retry policy allows (2 attempts), then is dead-lettered saying that the consumer timeout
expired. The figures (starts, redeliveries, dead letters, b's messages) are printed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import topology_setup as wiring
from mserve_harness import (
    Mserve,
    events,
    get_all,
    queue_state,
    records,
    unacked,
    vhost_of,
    wait_until,
)
from private_broker import PrivateNode

from mqwire.runtime import Registry, load

pytestmark = pytest.mark.private_broker

TOPOLOGY = """\
version: 1
connections:
  main: {url: "${AMQP_URL}", heartbeat: 30}
publisher_consumers:
  work: {prefix: work.mq, transport: amqp, connection: main}
queues:
  a: {consumer: work, prefetch: 1, retry: {delays: [0.2]}}
  b: {consumer: work, prefetch: 2}
tasks:
  slow: {task: "mserve_app:slow", queue: a}
  delivered: {task: "mserve_app:delivered", queue: b, timeout: 1}
"""
CONSUMER_TIMEOUT = ["consumer_timeout = 2000"]
TICK = "[{rabbit, [{channel_tick_interval, 500}]}]."


class Flowing:
    """Publishes ``{"id": n, "seconds": 0.05}`` to ``b`` (confirmed) from a thread until stopped."""

    def __init__(self, registry: Registry) -> None:
        self._publisher = registry.publisher("work")
        self.confirmed: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        n = 0
        while not self._stop.wait(0.02):  # the pace of b's traffic, not a synchronisation
            self._publisher.publish({"id": n, "seconds": 0.05}, routing_key="b")
            self.confirmed.append(str(n))
            n += 1

    def __enter__(self) -> Flowing:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def test_a_task_outliving_the_consumer_timeout_disturbs_no_other_queue_and_is_dead_lettered(
    make_private_node: Callable[..., PrivateNode], tmp_path: Path,
    record_property: Callable[[str, object], None], mserve: Callable[..., Mserve],
) -> None:  # fmt: skip
    node = make_private_node("consumer-timeout", conf=CONSUMER_TIMEOUT, advanced_config=TICK)
    url = node.add_vhost("ctimeout")
    ini = wiring.compile_into(tmp_path, TOPOLOGY)
    registry = load(ini, environ={"AMQP_URL": url})
    wiring.declare(url, registry)
    log = tmp_path / "records.txt"
    worker = mserve(ini, url, "--concurrency", "4")
    try:
        with Flowing(registry) as flowing:
            flowing_before = wait_until(lambda: len(flowing.confirmed) >= 20, what="b flowing")
            registry.publisher("work").publish({"id": "A", "seconds": 5}, routing_key="a")
            dead = wait_until(lambda: get_all(url, "a.dead"), timeout=60, what="a dead-lettered")
            assert flowing_before
        # both runs of A end (each works 5 s); then every b message is done
        wait_until(lambda: records(log, "done", "a").count("A") == 2, what="a's runs ending")
        wanted = set(flowing.confirmed)
        wait_until(lambda: set(records(log, "done", "b")) >= wanted, what="b all done")
        wait_until(lambda: queue_state(url, ["a", "b"]) == {"a": (0, 1), "b": (0, 1)}, what="empty")
        wait_until(lambda: set(unacked(node.ctl, vhost_of(url)).values()) == {0}, what="all acked")
        output = worker.output()
    finally:
        registry.close()  # the worker is killed after the test

    starts = records(log, "started", "a")
    b_done = records(log, "done", "b")
    b_redelivered = records(log, "redelivered", "b")
    figures = {
        "a_starts": len(starts),
        "a_redeliveries_settled": output.count("decided before"),
        "a_consumer_timeouts": output.count("outlived the broker's consumer timeout"),
        "a_dead_letters": len(dead),
        "b_confirmed": len(wanted),
        "b_done": len(b_done),
        "b_redelivered": len(b_redelivered),
    }
    print("consumer timeout: " + ", ".join(f"{k} {v}" for k, v in figures.items()))
    for name, value in figures.items():
        record_property(name, value)

    assert starts == ["A", "A"], "as many runs as the queue's attempts, never more"
    assert figures["a_consumer_timeouts"] == 2 and figures["a_redeliveries_settled"] == 2
    ((properties, _),) = dead
    headers = properties.headers
    assert headers["x-mqwire-exception"] == "ConsumerTimeoutExpired"
    assert headers["x-mqwire-attempts"] == 2
    assert "the broker's consumer timeout expired while task slow ran" in headers["x-mqwire-reason"]
    assert b_redelivered == [], "b's in-flight deliveries were never given back"
    assert sorted(b_done, key=int) == sorted(wanted, key=int), "each b message once"
    assert "channel of 'b' closed" not in output and "reconnecting" not in output
    assert output.count("reopening that channel only") == 2
    assert {pid for *_, pid in events(log)} == {worker.pid}
