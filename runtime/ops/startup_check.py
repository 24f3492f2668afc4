"""``mserve``'s start-up look at its exchanges' bindings: warn about routes the topology dropped.

A binding a deployed topology no longer has still routes its keys, so a removed route's task
keeps running. The worker cannot list bindings over AMQP; the management API can. This runs
once, in a daemon thread started after the workers began consuming, so neither the HTTP call
nor its imports delay start-up, and a slow or absent API never holds up a stop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence

from mqwire.topology.declarations import Declarations

from ..errors import ManagementUnavailable
from ..tls import TlsSettings

#: Seconds to wait for the workers to be consuming before looking anyway.
READY_WAIT = 10.0
#: Seconds the management API gets to answer: this runs off the hot path, but not forever.
TIMEOUT = 3.0


def extra_bindings(
    url: str, plan: Declarations, timeout: float = TIMEOUT, tls: TlsSettings | None = None
) -> list[str]:
    """The bindings on ``plan``'s exchanges that it does not declare, by name.

    Raises:
        ManagementUnavailable: the API is not where the AMQP URL says, or does not answer.
    """
    from .management_api import ManagementApi, endpoint
    from .verify import compare_bindings

    live = ManagementApi(endpoint(url, tls=tls), timeout).bindings()
    return [f.name for f in compare_bindings(plan, live) if f.state == "extra"]


def check_bindings(
    name: str, url: str, plan: Declarations, log: logging.Logger, tls: TlsSettings | None = None
) -> None:
    """Log a warning naming the extra bindings, or one info line saying why none was done."""
    try:
        extras = extra_bindings(url, plan, tls=tls)
    except ManagementUnavailable as exc:
        log.info("%s: could not check for bindings the topology does not have: %s", name, exc)
        return
    except Exception:  # a start-up courtesy: it must never take the worker down
        log.exception("%s: checking the broker's bindings failed", name)
        return
    if extras:
        log.warning(
            "%s: the broker has %d binding(s) on this topology's exchanges that the topology "
            "does not have; their keys still reach those queues: %s. Remove them with "
            "`mqctl CONFIG apply --prune`",
            name, len(extras), "; ".join(extras),
        )  # fmt: skip


async def check_when_consuming(
    checks: Sequence[tuple[str, str, Declarations, TlsSettings | None]],
    ready: Callable[[], bool],
    log: logging.Logger,
    wait: float = READY_WAIT,
) -> None:
    """Once ``ready()`` (or ``wait`` seconds on), run the (name, url, plan, tls) checks in a
    thread."""
    checks = [c for c in checks if c[2].exchanges]  # no exchange of its own: nothing to look at
    if not checks:
        return
    deadline = time.monotonic() + wait
    while not ready() and time.monotonic() < deadline:
        await asyncio.sleep(0.1)

    def run() -> None:
        for name, url, plan, tls in checks:
            check_bindings(name, url, plan, log, tls)

    threading.Thread(target=run, name="mqwire-binding-check", daemon=True).start()
