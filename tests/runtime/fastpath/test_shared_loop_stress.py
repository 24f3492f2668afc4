"""The shared I/O loop under stress, broker-free: many threads publish while the server breaks.

Caller threads publish and read confirms on the I/O thread's connection (``shared_ioloop``);
a fake server, again and again under them, drops every connection, closes every channel from
its side, nacks, coalesces confirms and blocks publishing; or the publisher is closed while
callers are mid-publish. Whatever the interleaving, no caller may hang, the I/O thread may not
die, nothing the server never got may be reported confirmed, every failure must be one a
caller is told to expect, and the publisher must go on working. Each test runs in both modes:
pika's own loop must pass it too, and with the shared loop callers must really have read
confirms themselves.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fake_amqp import FakeBroker

from mqwire.runtime._fastpath.switch import ENV, decide
from mqwire.runtime.amqp.transport import AmqpTransport
from mqwire.runtime.errors import PublishConnectionError, PublishError, PublishNacked
from mqwire.runtime.wire import WireMessage

THREADS = 8
FAULTS = 20
MODES = pytest.mark.parametrize("mode", ["on", "off"])


def wait_until(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.001)


def message() -> WireMessage:
    return WireMessage("", "q", b"{}", uuid.uuid4().hex)


@dataclass
class Stress:
    """A transport, its fake server, and publishing threads recording every outcome."""

    broker: FakeBroker
    transport: AmqpTransport
    shared: bool
    results: list[list[tuple[str, PublishError | None]]] = field(default_factory=list)
    settled_by_callers: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        io_thread = f"mqwire.publisher[{self.transport._name}]"
        real_settle = self.transport._io_settle

        def settle(entry: Any, outcome: PublishError | None) -> None:
            if threading.current_thread().name != io_thread:
                self.settled_by_callers.append(entry.message.message_id)
            real_settle(entry, outcome)

        self.transport._io_settle = settle  # type: ignore[method-assign]
        self.results = [[] for _ in range(THREADS)]
        self.threads = [threading.Thread(target=self._publish, args=(i,)) for i in range(THREADS)]
        for thread in self.threads:
            thread.start()

    def _publish(self, i: int) -> None:
        mine = self.results[i]
        while not self.stop.is_set():
            # Most one by one (the path that leads), some in small batches.
            batch = [message() for _ in range(1 if i % 4 else 1 + len(mine) % 20)]
            outcomes = self.transport.send(batch)
            mine.extend(zip((m.message_id for m in batch), outcomes, strict=True))

    def confirmed_count(self) -> int:
        return sum(o is None for per_thread in self.results for _, o in per_thread[:])

    def wait_for_traffic(self, messages: int = 20) -> None:
        """Until callers have had ``messages`` more confirms: the publisher works again
        after the last fault (fails the test after 30 s otherwise)."""
        seen = self.confirmed_count()
        wait_until(lambda: self.confirmed_count() >= seen + messages)

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(30)
        assert not any(t.is_alive() for t in self.threads), "a publishing thread hangs"

    def outcomes(self) -> list[tuple[str, PublishError | None]]:
        return [pair for per_thread in self.results for pair in per_thread]

    def check(self, allowed: tuple[type[PublishError], ...]) -> None:
        """Nothing reported confirmed that the server did not get, nor nacked that it acked;
        every failure of a kind a caller is told to expect; callers read confirms (shared)."""
        outcomes = self.outcomes()
        failed = [o for _, o in outcomes if o is not None]
        assert all(isinstance(o, allowed) for o in failed), {type(o).__name__ for o in failed}
        confirmed = {mid for mid, o in outcomes if o is None}
        assert confirmed <= set(self.broker.received), "reported confirmed but never sent"
        nacked = {mid for mid, o in outcomes if isinstance(o, PublishNacked)}
        assert nacked <= set(self.broker.nacked), "reported nacked but acked"
        assert bool(self.settled_by_callers) == self.shared


@pytest.fixture
def clean_log(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """No error logged by mqwire and no I/O thread restarted, whatever the faults."""
    caplog.set_level(logging.DEBUG, logger="mqwire.publisher")
    yield
    bad = [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.ERROR and r.name.startswith("mqwire")
    ]
    assert not bad, bad[:3]
    assert not [r for r in caplog.records if "had stopped" in r.getMessage()]


def stress(broker: FakeBroker, mode: str) -> Stress:
    fastpath = decide({ENV: mode})
    assert fastpath.shared_ioloop == (mode == "on")
    transport = AmqpTransport(
        broker.url, name=f"stress-{mode}", connect_timeout=5, confirm_timeout=15,
        fastpath=fastpath,
    )  # fmt: skip
    return Stress(broker, transport, fastpath.shared_ioloop)


def run_faults(
    mode: str, broker: FakeBroker, fault: Callable[[int], None]
) -> tuple[Stress, list[PublishError | None]]:
    """Publish from every thread while ``fault(i)`` breaks the server ``FAULTS`` times, each
    time once callers had 20 more confirms (so the publisher recovered from the last one)."""
    run = stress(broker, mode)
    try:
        run.start()
        for i in range(FAULTS):
            run.wait_for_traffic()
            fault(i)
        run.finish()
        # The last fault may not have reached the client yet: a send may still meet it.
        after = [run.transport.send([message()])[0] for _ in range(3)]
    finally:
        run.stop.set()
        run.transport.close()
    return run, after


@MODES
def test_publishers_survive_connections_dying_under_them(mode: str, clean_log: None) -> None:
    broker = FakeBroker()
    try:
        # Each kill drops a live connection (the last one's confirms may outrun a reconnect).
        run, after = run_faults(mode, broker, lambda _: wait_until(lambda: broker.kill() > 0))
    finally:
        broker.close()
    assert after[-1] is None, f"the publisher no longer works: {after}"
    run.check((PublishConnectionError,))
    assert broker.connections > FAULTS


@MODES
def test_publishers_survive_channels_closed_by_the_server_nacks_and_coalesced_acks(
    mode: str, clean_log: None
) -> None:
    broker = FakeBroker(nack_every=7, coalesce=True)
    try:
        run, after = run_faults(mode, broker, lambda _: broker.close_channels())
    finally:
        broker.close()
    assert [a for a in after if not isinstance(a, PublishNacked)][-1] is None, after
    run.check((PublishConnectionError, PublishNacked))
    assert broker.connections == 1, "a channel close must not cost the connection"
    assert any(isinstance(o, PublishNacked) for _, o in run.outcomes())


@MODES
def test_publishers_survive_blocks_kills_and_channel_closes_mixed(
    mode: str, clean_log: None
) -> None:
    broker = FakeBroker(nack_every=11, coalesce=True)
    rng = random.Random(20261204)

    def fault(_: int) -> None:
        kind = rng.choice(["kill", "close_channels", "block"])
        if kind == "block":  # held confirms until unblocked, as a resource alarm does
            broker.block()
            time.sleep(rng.uniform(0.0, 0.05))  # the alarm's length, not a synchronisation
            broker.unblock()
        else:
            getattr(broker, kind)()

    try:
        run, after = run_faults(mode, broker, fault)
    finally:
        broker.close()
    assert [a for a in after if not isinstance(a, PublishNacked)][-1] is None, after
    run.check((PublishConnectionError, PublishNacked))


@MODES
def test_closing_the_publisher_while_callers_publish_and_read(mode: str, clean_log: None) -> None:
    broker = FakeBroker()
    try:
        for _ in range(FAULTS // 2):
            run = stress(broker, mode)
            run.start()
            run.wait_for_traffic()
            run.transport.close()  # callers are mid-publish, some reading their confirms
            run.finish()
            assert not run.transport._thread.is_alive(), "the I/O thread did not stop"
            (late,) = run.transport.send([message()])
            assert isinstance(late, PublishConnectionError) and "closed" in str(late)
            outcomes = run.outcomes()
            failed = [o for _, o in outcomes if o is not None]
            assert all(isinstance(o, PublishConnectionError) for o in failed), failed[:3]
            confirmed = {mid for mid, o in outcomes if o is None}
            assert confirmed and confirmed <= set(broker.received)
    finally:
        broker.close()
