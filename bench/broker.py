"""The broker side of every measurement: throw-away vhosts, queue polling, settled checks.

Each measurement gets its own vhost (``rabbitmqctl add_vhost``, permissions for the URL's user,
``delete_vhost`` afterwards), so no run sees another's queues or messages. ``Watcher`` polls a
queue with passive ``queue.declare`` (ready messages and consumers, one round trip), which is
what the timings are taken from; ``Vhost.wait_settled`` then asks ``rabbitmqctl`` that nothing
is left anywhere in the vhost, ready or unacknowledged, dead-letter queues included.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

import pika  # type: ignore[import-untyped]

DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


def _cpu_ticks(stat: Path) -> int:
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


class BenchError(RuntimeError):
    """A measurement could not be taken: a worker died, a wait timed out, the broker refused."""


class Broker:
    """The RabbitMQ under test, reached over AMQP at ``url`` and through ``rabbitmqctl``."""

    def __init__(self, url: str = DEFAULT_URL, *, delete_later: bool = False) -> None:
        """``delete_later``: delete vhosts in the background (``--quick``: faster, noisier)."""
        exe = shutil.which("rabbitmqctl")
        if exe is None:
            raise BenchError("rabbitmqctl is needed (throw-away vhosts, unacked counts)")
        parts = urlsplit(url)
        self.url, self.user = url, parts.username or "guest"
        self._base, self._exe = f"{parts.scheme}://{parts.netloc}", exe
        self._delete_later = delete_later
        self._deleting: list[subprocess.Popen[bytes]] = []
        self._leftover: list[str] = []  # vhosts whose deletion failed (broker restarting)
        self._pid: int | None = None  # the broker's OS process, 0 when not on this machine

    def wait_quiet(self, timeout: float = 10.0, window: float = 0.2, busy: float = 0.1) -> float:
        """Wait until the broker's own process uses under ``busy`` of a core; the seconds waited.

        What a run leaves behind (a deleted vhost, 20,000 messages just written) keeps the
        broker busy for a while after it; the next contender would pay for it. Only a broker
        on this machine is watched (its OS pid from ``rabbitmqctl``); otherwise nothing waits.
        """
        if self._pid is None:
            try:
                self._pid = int(self.ctl("eval", "os:getpid().").strip().strip('"'))
            except (BenchError, ValueError):
                self._pid = 0
        stat, began = Path(f"/proc/{self._pid}/stat"), time.monotonic()
        ticks = os.sysconf("SC_CLK_TCK")
        while self._pid and time.monotonic() - began < timeout:
            try:
                before = _cpu_ticks(stat)
                time.sleep(window)  # sampling the broker's CPU use, not waiting for an event
                if (_cpu_ticks(stat) - before) / ticks < busy * window:
                    break
            except OSError:  # not a process of this machine
                break
        return time.monotonic() - began

    def ctl(self, *args: str) -> str:
        done = subprocess.run(
            [self._exe, "-q", *args], capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode:
            raise BenchError(f"rabbitmqctl {' '.join(args)}: {done.stderr.strip()[:500]}")
        return done.stdout

    @contextlib.contextmanager
    def vhost(self, label: str) -> Iterator[Vhost]:
        name = f"mqwire-bench-{label}-{uuid.uuid4().hex[:8]}"
        self.ctl("add_vhost", name)
        try:
            self.ctl("set_permissions", "-p", name, self.user, ".*", ".*", ".*")
            yield Vhost(self, name, f"{self._base}/{quote(name, safe='')}")
        finally:
            if self._delete_later:
                argv = [self._exe, "-q", "delete_vhost", name]
                self._deleting.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL))
            else:
                try:
                    self.ctl("delete_vhost", name)
                except BenchError:
                    self._leftover.append(name)
                    raise

    def close(self) -> None:
        """Wait for the vhosts still being deleted; retry those whose deletion failed."""
        for process in self._deleting:
            process.wait(120)
        self._deleting.clear()
        for name in self._leftover:
            with contextlib.suppress(BenchError):
                self.ctl("delete_vhost", name)
        self._leftover.clear()

    def version(self) -> str:
        return self.ctl("version").strip()

    def erlang_version(self) -> str:
        try:
            return self.ctl("eval", "erlang:system_info(otp_release).").strip().strip('"')
        except BenchError:
            return "?"


@dataclass(frozen=True)
class Vhost:
    broker: Broker
    name: str
    url: str

    def queue_counts(self) -> dict[str, tuple[int, int]]:
        """(ready, unacknowledged) messages per queue, as the broker reports them."""
        out = self.broker.ctl(
            "list_queues", "-p", self.name, "--no-table-headers",
            "name", "messages_ready", "messages_unacknowledged",
        )  # fmt: skip
        counts = {}
        for line in out.splitlines():
            if line.strip():
                name, ready, unacked = line.split("\t")
                counts[name] = (int(ready), int(unacked))
        return counts

    def wait_settled(self, timeout: float = 60.0) -> None:
        """Until no queue of the vhost holds a message, ready or unacknowledged."""
        deadline = time.monotonic() + timeout
        while True:
            left = {q: c for q, c in self.queue_counts().items() if any(c)}
            if not left:
                return
            if time.monotonic() > deadline:
                raise BenchError(f"messages left (ready, unacked) after {timeout:g} s: {left}")
            time.sleep(0.2)

    def declare(self, queue: str, arguments: dict[str, object] | None = None) -> None:
        with pika.BlockingConnection(pika.URLParameters(self.url)) as connection:
            connection.channel().queue_declare(queue, durable=True, arguments=arguments)


class Watcher:
    """Polls queues by passive declare on one connection of its own."""

    def __init__(self, url: str) -> None:
        self._connection = pika.BlockingConnection(pika.URLParameters(url))
        self._channel = self._connection.channel()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._connection.close()

    def state(self, queue: str) -> tuple[int, int] | None:
        """(ready messages, consumers), or None while the queue does not exist."""
        try:
            ok = self._channel.queue_declare(queue, passive=True).method
        except pika.exceptions.ChannelClosedByBroker:
            self._channel = self._connection.channel()
            return None
        return ok.message_count, ok.consumer_count

    def wait_consuming(
        self,
        queues: Sequence[str],
        alive: Callable[[], None],
        timeout: float = 120.0,
        consumers: int = 1,
    ) -> tuple[float, int]:
        """Poll until every queue has ``consumers``: that moment and the first queue's ready
        count (a process group's children each consume, so the clock waits for all of them).

        ``alive`` raises when the worker died, so a crash is reported at once, not as a timeout.
        """
        deadline = time.monotonic() + timeout
        while True:
            states = [self.state(q) for q in queues]
            now = time.monotonic()
            if all(s is not None and s[1] >= consumers for s in states):
                first = states[0]
                assert first is not None
                return now, first[0]
            alive()
            if now > deadline:
                raise BenchError(f"no consumer on {', '.join(queues)} after {timeout:g} s")
            time.sleep(0.002)

    def wait_empty(
        self, queue: str, alive: Callable[[], None], timeout: float = 600.0, interval: float = 0.01
    ) -> float:
        """Poll until ``queue`` has no ready message: the first moment it was seen empty."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.state(queue)
            now = time.monotonic()
            if state is not None and state[0] == 0:
                return now
            alive()
            if now > deadline:
                raise BenchError(f"{queue} still holds {state} after {timeout:g} s")
            time.sleep(interval)
