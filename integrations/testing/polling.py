"""Waiting on state, never on time: poll a condition until it holds or a deadline passes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T],
    *,
    timeout: float = 60.0,
    what: str = "condition",
    detail: Callable[[], str] | None = None,
) -> T:
    """Poll ``condition`` until it returns something truthy; that value.

    Raises:
        AssertionError: past ``timeout`` seconds, naming ``what`` and, when given, ``detail()``
            (the state last seen).
    """
    __tracebackhide__ = True
    deadline = time.monotonic() + timeout
    interval = 0.02
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            message = f"timed out after {timeout:g} s waiting for {what}"
            raise AssertionError(f"{message}: {detail()}" if detail else message)
        time.sleep(interval)  # polling interval, not a synchronisation guess
        interval = min(0.25, interval * 1.5)
