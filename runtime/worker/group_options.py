"""``mserve``'s process-group options (``--processes``, its restart limits, the child's own)
and a child's side of the group: its metrics sink, watching for its supervisor's end.

Apart from ``supervisor.py`` so that ``mserve --help`` and a single worker need none of the
supervisor's machinery.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import signal
from collections.abc import Callable
from pathlib import Path

from .metrics import Sink
from .policy import RestartLimits

#: Added to each child's command line: it serves its status on a unix socket, and stops when
#: its stdin (a pipe from the supervisor) closes, so a killed supervisor leaves no orphans.
GROUP_CHILD = "--group-child"
STATUS_SOCKET = "--status-socket"

#: The cgroup v2 CPU quota of this process's cgroup, as a container sees it: "max 100000"
#: (unlimited) or "150000 100000" (1.5 CPUs: 150 ms of CPU time every 100 ms).
CPU_MAX = "/sys/fs/cgroup/cpu.max"


def usable_cpus(cpus: int | None, read_file: Callable[[str], str]) -> int:
    """The CPUs this process can use: ``cpus`` (those it may run on; None: unknown) within
    the cgroup v2 quota ``read_file(CPU_MAX)`` gives, rounded up; at least 1. A container
    sees the host's CPUs, so counting them alone starts more workers than it may run."""
    try:
        quota, period = read_file(CPU_MAX).split()[:2]
        limit: int | None = math.ceil(int(quota) / int(period))
    except (OSError, ValueError, ZeroDivisionError):  # no cgroup v2 file, "max", or garbled
        limit = None
    known = [n for n in (cpus, limit) if n is not None]
    return max(1, min(known)) if known else 1


def _cpus_to_run_on() -> int | None:
    """The CPUs this process may be scheduled on (its affinity), where the OS says so."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count()


def processes(text: str) -> int:
    """``N`` (at least 1) or ``auto``: the CPUs this process can use (``usable_cpus``)."""
    if text == "auto":
        return usable_cpus(_cpus_to_run_on(), lambda path: Path(path).read_text())
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'auto', got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be above 0")
    return value


def add_group_options(parser: argparse.ArgumentParser) -> None:
    defaults = RestartLimits()
    parser.add_argument(
        "--processes", type=processes, default=1, metavar="N|auto",
        help="run N worker processes under one supervisor (auto: one per CPU this process may "
        "use, within a container's CPU quota); the default 1 runs the worker in this process. "
        "See 'Process groups' in docs/mserve.md",
    )  # fmt: skip
    parser.add_argument(
        "--max-deaths", type=int, default=defaults.max_deaths, metavar="K",
        help="--processes: stop the group (exit 8) once K children died within "
        "--restart-window seconds (default: %(default)s); before that each is restarted",
    )  # fmt: skip
    parser.add_argument(
        "--restart-window", type=_positive_float, default=defaults.window, metavar="SECONDS",
        help="--processes: the window over which --max-deaths counts (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(GROUP_CHILD, action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(STATUS_SOCKET, metavar="PATH", help=argparse.SUPPRESS)


def restart_limits(args: argparse.Namespace) -> RestartLimits:
    return RestartLimits(max(1, args.max_deaths), args.restart_window)


def group_sink(args: argparse.Namespace) -> Sink | None:
    """A group child's second record of its metrics, which its supervisor adds up."""
    if not (args.group_child and os.environ.get("PROMETHEUS_MULTIPROC_DIR")):
        return None
    from .group_metrics import GroupSink

    return GroupSink()


def watch_supervisor(on_signal: Callable[[int, str], None]) -> None:
    """A group child's stdin is readable: at its end (the supervisor is gone), stop."""
    if not os.read(0, 1):
        asyncio.get_running_loop().remove_reader(0)
        on_signal(signal.SIGTERM, "the supervisor is gone")
