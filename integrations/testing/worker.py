"""One ``mserve`` process for a test: its log in a file, its status endpoint, waits on its state.

The worker runs as it does in production, a process of its own (``python -m
mqwire.runtime.worker.mserve``), with ``--http`` on a free loopback port unless the caller
gave one: ``/readyz`` says when it consumes, ``/metrics`` what it holds (see ``idle.py``).
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import os
import re
import signal as signals
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import cast

from mqwire.runtime import Registry
from mqwire.runtime.errors import ExitCode

from .idle import Probe, WorkerCounts, probe_order
from .polling import wait_until

#: The line ``mserve --http`` logs once its endpoint listens.
_STATUS_PORT = re.compile(r"status on port (\d+)")
_UNSPECIFIED_HOSTS = ("", "0.0.0.0", "::")
_serial = itertools.count(1)


def _option(args: Sequence[str], name: str) -> str | None:
    """The value of ``name`` in ``args`` (``NAME VALUE`` or ``NAME=VALUE``), or None."""
    for n, arg in enumerate(args):
        if arg == name:
            return args[n + 1] if n + 1 < len(args) else ""
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def _exit_name(code: int) -> str:
    with contextlib.suppress(ValueError):
        return f"{code} ({ExitCode(code).name})"
    return str(code)


class WorkerProcess:
    """``mserve INI ARGS`` started now, its output going to ``log``.

    ``environ`` is added to this process's environment (its ``${VAR}`` placeholders resolve
    from it); ``pythonpath`` comes first on its ``PYTHONPATH``, so the tasks import.
    """

    def __init__(
        self,
        ini: Path,
        *,
        log_dir: Path,
        environ: Mapping[str, str] | None = None,
        args: Sequence[str] = (),
        pythonpath: Sequence[str | os.PathLike[str]] = (),
    ) -> None:
        self.ini = ini
        self.args = tuple(args)
        if _option(self.args, "--http") is None:
            self.args += ("--http", "127.0.0.1:0")
        self.environ = {**os.environ, **(environ or {})}
        paths = [*map(str, pythonpath), self.environ.get("PYTHONPATH", "")]
        self.environ["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
        self.log = log_dir / f"mserve-{os.getpid()}-{next(_serial)}.log"
        self._registry: Registry | None = None
        with self.log.open("wb") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                [sys.executable, "-m", "mqwire.runtime.worker.mserve", str(ini), *self.args],
                env=self.environ,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        """Everything the worker logged so far."""
        return self.log.read_text(errors="replace")

    def signal(self, signum: int = signals.SIGTERM) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float = 60.0) -> int:
        """Wait for the process to end; its exit code."""
        return self.process.wait(timeout)

    def stop(self, timeout: float = 60.0) -> int:
        """Stop it as a deployment does (SIGTERM: in-flight tasks finish); its exit code."""
        __tracebackhide__ = True
        if self.process.poll() is None:
            self.signal(signals.SIGTERM)
        try:
            return self.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"mserve did not stop within {timeout:g} s of SIGTERM") from None

    def kill(self) -> None:
        """Make sure the process is gone (SIGKILL), and close the registry (test teardown)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        if self._registry is not None:
            self._registry.close()
            self._registry = None

    def _check_running(self, doing: str) -> None:
        __tracebackhide__ = True
        code = self.process.poll()
        if code is not None:
            lines = self.output().rstrip().splitlines()
            last = f": {lines[-1]}" if lines else ""
            raise AssertionError(f"mserve exited with {_exit_name(code)} {doing}{last}")

    @property
    def status_port(self) -> int:
        """The port of its ``--http`` endpoint: the one given, else the one it logs once it
        listens (waited for; a ``--log-config`` that sends the log elsewhere hides it)."""
        __tracebackhide__ = True
        port = self._http_address()[1]
        if port:
            return port

        def logged() -> re.Match[str] | None:
            self._check_running("before it was ready")
            return _STATUS_PORT.search(self.output())

        found = wait_until(logged, timeout=30, what="mserve's status endpoint in its log")
        return int(cast(re.Match[str], found)[1])  # wait_until returns it only once found

    def http_get(self, path: str, timeout: float = 10.0) -> tuple[int, str]:
        """Status and body of ``GET path`` on the worker's status endpoint.

        Raises:
            OSError: it did not answer within ``timeout`` seconds (a stopped or busy worker).
        """
        host = self._http_address()[0]
        connection = http.client.HTTPConnection(host, self.status_port, timeout=timeout)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read().decode("utf-8", "replace")
        finally:
            connection.close()

    def _http_address(self) -> tuple[str, int]:
        """Where to reach the endpoint: the ``--http`` given (port 0: not known yet)."""
        from mqwire.runtime.worker.status_http import LOOPBACK, parse_http_address

        host, port = parse_http_address(_option(self.args, "--http") or "0")
        return (LOOPBACK if host in _UNSPECIFIED_HOSTS else host), port

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait until it consumes every queue it serves (``/readyz`` answers 200)."""
        __tracebackhide__ = True
        last: list[str] = [""]

        def ready() -> bool:
            self._check_running("before it was ready")
            try:
                status, body = self.http_get("/readyz", timeout=5)
            except OSError as exc:  # not listening yet (a given --http port), or busy
                last[0] = f"its status endpoint did not answer: {type(exc).__name__}: {exc}"
                return False
            last[0] = body.strip()
            return status == 200

        wait_until(ready, timeout=timeout, what="mserve to consume", detail=lambda: last[0])

    @property
    def registry(self) -> Registry:
        """The worker's compiled wiring loaded here, with its environment: publish with it."""
        __tracebackhide__ = True
        if self._registry is None:
            from .compiling import load_registry

            self._registry = load_registry(self.ini, self.environ)
        return self._registry

    def served(self) -> list[tuple[str, str, tuple[str, ...]]]:
        """(broker URL, queue, its retry queues) of every queue the worker serves."""
        from mqwire.runtime.worker.mserve import build_parser, select_consumers

        known, _ = build_parser().parse_known_args([str(self.ini), *self.args])
        specs = select_consumers(self.registry, known.names, known.queue)
        return [
            (spec.settings.url or "", q.name, tuple(name for _, name in q.retry_queues))
            for spec in specs
            for q in spec.queues
        ]

    def counts(self, timeout: float = 10.0) -> WorkerCounts:
        """What the worker holds now, from its ``/metrics``."""
        __tracebackhide__ = True
        status, text = self.http_get("/metrics", timeout)
        if status != 200:
            raise AssertionError(f"mserve's /metrics answered {status}: {text[:200]}")
        return WorkerCounts.parse(text)

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Wait until every queue it serves is empty and it holds no message unsettled.

        Raises:
            AssertionError: after ``timeout`` seconds, with each queue's state; or at once when
                the worker exits.
        """
        __tracebackhide__ = True
        from mqwire.runtime.amqp.admin import Admin  # pika only for broker tests

        by_url: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
        for url, queue, retries in self.served():
            by_url.setdefault(url, []).append((queue, retries))
        deadline = time.monotonic() + timeout
        state = ["not probed yet"]
        with contextlib.ExitStack() as stack:
            admins = [
                (stack.enter_context(Admin(url)), probe_order(q)) for url, q in by_url.items()
            ]

            def idle() -> bool:
                self._check_running("before it was idle")
                answer_within = min(5.0, max(0.5, deadline - time.monotonic()))
                try:
                    before = self.counts(answer_within)
                    ready = {
                        name: (found.ready if (found := admin.probe_queue(name)).exists else None)
                        for admin, names in admins
                        for name in names
                    }
                    probe = Probe(before, ready, self.counts(answer_within))
                except OSError as exc:  # stopped, or its event loop blocked
                    state[0] = f"its status endpoint did not answer: {type(exc).__name__}: {exc}"
                    return False
                state[0] = probe.describe()
                return probe.idle

            wait_until(idle, timeout=timeout, what="mserve to be idle", detail=lambda: state[0])
