"""The shared I/O loop under stress, broker-free: many threads publish while connections die.

Caller threads publish and read confirms on the I/O thread's connection (``shared_ioloop``);
a fake server drops every connection again and again under them. Whatever the interleaving,
no caller may hang, the I/O thread may not die, nothing the server never got may be reported
confirmed, and the publisher must go on working. Run in both modes: pika's own loop must
pass it too.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fake_amqp import FakeBroker

from mqwire.runtime._fastpath.switch import ENV, decide
from mqwire.runtime.amqp.transport import AmqpTransport
from mqwire.runtime.errors import PublishConnectionError, PublishError
from mqwire.runtime.wire import WireMessage

THREADS = 8
KILLS = 20


@pytest.fixture
def fake_broker() -> Iterator[FakeBroker]:
    broker = FakeBroker()
    yield broker
    broker.close()


def wait_until(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.001)


def message() -> WireMessage:
    return WireMessage("", "q", b"{}", uuid.uuid4().hex)


@pytest.mark.parametrize("mode", ["on", "off"])
def test_publishers_survive_connections_dying_under_them(
    mode: str, fake_broker: FakeBroker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="mqwire.publisher")
    fastpath = decide({ENV: mode})
    assert fastpath.shared_ioloop == (mode == "on")
    transport = AmqpTransport(
        fake_broker.url, name=f"stress-{mode}", connect_timeout=5, confirm_timeout=15,
        fastpath=fastpath,
    )  # fmt: skip
    io_thread = f"mqwire.publisher[{transport._name}]"
    settled_by_callers: list[str] = []
    real_settle = transport._io_settle

    def settle(entry: Any, outcome: PublishError | None) -> None:
        if threading.current_thread().name != io_thread:
            settled_by_callers.append(entry.message.message_id)
        real_settle(entry, outcome)

    transport._io_settle = settle  # type: ignore[method-assign]
    stop = threading.Event()
    results: list[list[tuple[str, PublishError | None]]] = [[] for _ in range(THREADS)]

    def publish(i: int) -> None:
        while not stop.is_set():
            # Most one by one (the path that leads), some in small batches.
            batch = [message() for _ in range(1 if i % 4 else 1 + len(results[i]) % 20)]
            outcomes = transport.send(batch)
            results[i].extend(zip((m.message_id for m in batch), outcomes, strict=True))

    threads = [threading.Thread(target=publish, args=(i,)) for i in range(THREADS)]
    try:
        for thread in threads:
            thread.start()
        for _ in range(KILLS):
            seen = len(fake_broker.received)
            wait_until(lambda seen=seen: len(fake_broker.received) >= seen + 20)
            fake_broker.kill()
        stop.set()
        for thread in threads:
            thread.join(30)
        assert not any(t.is_alive() for t in threads), "a publishing thread hangs"
        # The last kill may not have reached the client yet: a send may still meet it.
        after = [transport.send([message()])[0] for _ in range(3)]
        assert after[-1] is None, f"the publisher no longer works: {after}"
    finally:
        stop.set()
        transport.close()

    outcomes = [outcome for per_thread in results for _, outcome in per_thread]
    failed = [o for o in outcomes if o is not None]
    assert all(isinstance(o, PublishConnectionError) for o in failed), {
        type(o).__name__ for o in failed
    }
    received = set(fake_broker.received)
    confirmed = [mid for per_thread in results for mid, o in per_thread if o is None]
    assert set(confirmed) <= received, "reported confirmed but never sent"
    assert len(confirmed) > KILLS * 20 / 2
    assert fake_broker.connections > KILLS
    # The shared loop was really exercised: callers read confirms themselves (only then).
    assert bool(settled_by_callers) == fastpath.shared_ioloop
    bad = [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.ERROR and r.name.startswith("mqwire")
    ]
    assert not bad, bad[:3]
    assert not [r for r in caplog.records if "had stopped" in r.getMessage()]
