"""The tasks ``mserve`` runs in the benchmark (``bench/`` is put on the worker's PYTHONPATH).

``noop`` and ``noop_async`` do nothing, so the benchmark measures the worker, not the task. The
``latency*`` tasks write ``time.time() - sent`` (the publisher's timestamp in the body) to the
file named by ``BENCH_LATENCY_FILE``: one ``os.write`` per message on an ``O_APPEND`` file.
"""

from __future__ import annotations

import os
import time
from typing import Any

_fd: int | None = None


def noop(context: Any, request: Any) -> None:
    return None


async def noop_async(context: Any, request: Any) -> None:
    return None


def _record(sent: float) -> None:
    global _fd
    delay = time.time() - sent
    if _fd is None:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        _fd = os.open(os.environ["BENCH_LATENCY_FILE"], flags, 0o600)
    os.write(_fd, f"{delay:.6f}\n".encode())


def latency(context: Any, request: Any) -> None:
    _record(request.json["sent"])


async def latency_async(context: Any, request: Any) -> None:
    _record(request.json["sent"])
