"""``mserve --processes N``: N worker processes under one supervisor (a process group).

Each child is the same ``mserve`` command with ``--processes 1``, started fresh with
``python -m`` (no fork after pika and tornado are imported), its stdin a pipe from here: it
stops when that closes, so a supervisor killed with SIGKILL leaves no orphans. A child that dies
while the group runs is restarted after its slot's backoff (``restarts.py`` decides, and when to
give up); SIGTERM and SIGINT are passed on to every child, each drains within its ``--grace``,
and the group exits with its worst child's code. ``--http`` serves one endpoint for the group:
``/healthz`` and ``/readyz`` ask every child (``group_status.py``), ``/metrics`` adds their
counters up (``group_metrics.py``, prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from ..errors import ExitCode
from . import group_status
from .group_options import GROUP_CHILD, STATUS_SOCKET, restart_limits
from .restarts import Restart, Restarts, describe, group_exit_code

log = logging.getLogger("mqwire.mserve.group")

#: Seconds past ``--grace`` a child gets before the supervisor kills it (its own forced stop
#: comes at ``--grace``; this only catches one that hangs).
KILL_AFTER = 10.0
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def metrics_missing() -> str | None:
    """Why ``--processes N --http`` cannot run here, or None: it needs prometheus_client."""
    if importlib.util.find_spec("prometheus_client") is None:
        return (
            "--processes above 1 with --http needs prometheus_client to add the children's "
            "metrics up: pip install 'mqwire[prometheus]'"
        )
    return None


class _Slot:
    """One place in the group: its child process (replaced on a restart) and socket."""

    def __init__(self, index: int, socket: str) -> None:
        self.index = index
        self.socket = socket
        self.process: asyncio.subprocess.Process | None = None
        self.returncode: int | None = None

    @property
    def label(self) -> str:
        pid = self.process.pid if self.process is not None else "-"
        return f"child {self.index} (pid {pid})"

    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    def signal(self, signum: int) -> None:
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signum)


class Supervisor:
    """Runs the group until every child has ended; ``run()`` returns the group's exit code."""

    def __init__(self, args: argparse.Namespace, argv: Sequence[str], folder: Path) -> None:
        self.args = args
        self.argv = [*argv, "--processes", "1", GROUP_CHILD]
        self.restarts = Restarts(restart_limits(args))
        self.slots = [_Slot(n, str(folder / f"child-{n}.sock")) for n in range(args.processes)]
        self.metrics_dir = str(folder / "metrics") if args.http else None
        self.stopping = asyncio.Event()
        self.decided: ExitCode | None = None  # a code the group chose (crash loop, fatal)
        self.deaths = 0

    def _command(self, slot: _Slot) -> list[str]:
        module = "mqwire.runtime.worker.mserve"
        return [sys.executable, "-m", module, *self.argv, STATUS_SOCKET, slot.socket]

    async def _start(self, slot: _Slot) -> None:
        env = {k: v for k, v in os.environ.items() if k != MULTIPROC_ENV}  # ours, or none
        if self.metrics_dir is not None:
            env[MULTIPROC_ENV] = self.metrics_dir
        with contextlib.suppress(FileNotFoundError):
            os.unlink(slot.socket)  # a dead child's socket file
        slot.process = await asyncio.create_subprocess_exec(
            *self._command(slot), stdin=subprocess.PIPE, env=env, start_new_session=True
        )
        self.restarts.started(slot.index, time.monotonic())
        log.info("started %s", slot.label)

    def _ended(self, slot: _Slot, returncode: int) -> None:
        # SIGTERM's default action: the child was stopped before its handler was set, so
        # before it consumed anything: a clean stop, not a forced one
        clean = self.stopping.is_set() and returncode == -signal.SIGTERM
        slot.returncode = ExitCode.OK if clean else returncode
        if self.metrics_dir is not None and slot.process is not None:
            from .group_metrics import child_ended

            child_ended(slot.process.pid, self.metrics_dir)

    async def _run_slot(self, slot: _Slot) -> None:
        """Start the slot's child; restart it when it dies, until the group stops."""
        while True:
            await self._start(slot)
            assert slot.process is not None
            if self.stopping.is_set():  # the stop came while it was being started
                slot.signal(signal.SIGTERM)
            returncode = await slot.process.wait()
            self._ended(slot, returncode)
            if self.stopping.is_set():
                log.info("%s ended: %s", slot.label, describe(returncode))
                return
            self.deaths += 1
            decision = self.restarts.died(slot.index, returncode, time.monotonic())
            if not isinstance(decision, Restart):
                log.error(
                    "%s died: %s; %s: stopping the group",
                    slot.label,
                    describe(returncode),
                    decision.reason,
                )
                self.decided = decision.code
                self.stop(signal.SIGTERM)
                return
            log.warning(
                "%s died: %s; restarting it in %.1f s",
                slot.label,
                describe(returncode),
                decision.delay,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), decision.delay)
            if self.stopping.is_set():
                return

    def stop(self, signum: int) -> None:
        """Pass ``signum`` on to every child: the first one drains, a second one forces."""
        self.stopping.set()
        for slot in self.slots:
            slot.signal(signum)

    def on_signal(self, signum: int) -> None:
        again = " again: forcing" if self.stopping.is_set() else ": stopping every child"
        log.info("%s received%s", signal.Signals(signum).name, again)
        self.stop(signum)

    async def _kill_late(self) -> None:
        """Children still running ``--grace`` + ``KILL_AFTER`` s after the stop are killed."""
        await self.stopping.wait()
        await asyncio.sleep(self.args.grace + KILL_AFTER)
        for slot in self.slots:
            if slot.running():
                log.error("%s did not stop within --grace: killing it", slot.label)
                slot.signal(signal.SIGKILL)

    def _children(self) -> list[group_status.Child]:
        return [group_status.Child(s.label, s.socket, s.running()) for s in self.slots]

    def _probe(self, what: str) -> list[group_status.Answer]:
        return group_status.answers(self._children(), what)

    def _serve_http(self) -> None:
        from .group_metrics import render_group
        from .status_http import start_status_server

        assert self.metrics_dir is not None
        metrics_dir = self.metrics_dir

        def render() -> str:
            running = sum(s.running() for s in self.slots)
            own = (
                "# HELP mqwire_group_children Worker processes of the group running now.\n"
                "# TYPE mqwire_group_children gauge\n"
                f"mqwire_group_children {running}\n"
                "# HELP mqwire_group_child_deaths_total Children that died while the group ran.\n"
                "# TYPE mqwire_group_child_deaths_total counter\n"
                f"mqwire_group_child_deaths_total {self.deaths}\n"
            )
            return render_group(metrics_dir) + own

        _, port = start_status_server(
            self.args.http,
            render,
            lambda: group_status.readiness(self._probe("/readyz")),
            lambda: group_status.liveness(self._probe("/healthz")),
        )
        log.info(
            "status on port %d: /healthz /readyz /metrics (for %d processes)", port, len(self.slots)
        )

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.on_signal, signum)
        if self.metrics_dir is not None:
            os.mkdir(self.metrics_dir)
            self._serve_http()
        log.info("starting %d worker processes", len(self.slots))
        killer = asyncio.ensure_future(self._kill_late())
        await asyncio.gather(*(self._run_slot(slot) for slot in self.slots))
        killer.cancel()
        codes = [s.returncode for s in self.slots if s.returncode is not None]
        return group_exit_code(codes, self.decided)


def run_group(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """Run ``mserve ARGV`` as a group of ``args.processes`` children; the group's exit code."""
    problem = args.http and metrics_missing()
    if problem:
        print(f"mserve: error: {problem}", file=sys.stderr)
        return ExitCode.CONFIG
    folder = Path(tempfile.mkdtemp(prefix="mserve-group-"))  # 0700: sockets and metrics
    try:
        code = asyncio.run(Supervisor(args, argv, folder).run())
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    log.info("the group exits with %d (%s)", code, ExitCode(code).name)
    return code
