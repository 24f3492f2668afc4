"""``mserve``'s process-group options (``--processes``, its restart limits, the child's own)
and a child's side of the group: its metrics sink, watching for its supervisor's end.

Apart from ``supervisor.py`` so that ``mserve --help`` and a single worker need none of the
supervisor's machinery.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from collections.abc import Callable

from .metrics import Sink
from .policy import RestartLimits

#: Added to each child's command line: it serves its status on a unix socket, and stops when
#: its stdin (a pipe from the supervisor) closes, so a killed supervisor leaves no orphans.
GROUP_CHILD = "--group-child"
STATUS_SOCKET = "--status-socket"


def processes(text: str) -> int:
    """``N`` (at least 1) or ``auto``: the number of CPUs (``os.cpu_count()``)."""
    if text == "auto":
        return os.cpu_count() or 1
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
        help="run N worker processes under one supervisor (auto: one per CPU); the default 1 "
        "runs the worker in this process. See 'Process groups' in docs/mserve.md",
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
