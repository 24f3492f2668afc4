"""The PRODUCER spans between ``before_publish`` and ``after_publish``, found again by message.

``after_publish`` gets the message as sent, which a later middleware may have copied with more
headers, so a span is looked up by what identifies the message (id, exchange, routing key), not
by the object. Equal keys (one id published to two queues) pair first in, first out.
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

S = TypeVar("S")
Key = tuple[str, str, str]

#: Spans kept waiting for their outcome, a batch's included; past it the oldest is given up.
LIMIT = 100_000


class OpenSpans(Generic[S]):
    """Spans by message, at most ``limit``; safe to use from any publishing thread.

    A publish that never reaches ``after_publish`` (a later middleware's ``before_publish``
    raised, or the transport refused to encode the message) leaves its span here: once more
    than ``limit`` are waiting, ``add`` hands back the oldest, for the caller to end.
    """

    def __init__(self, limit: int = LIMIT) -> None:
        self.limit = limit
        self._spans: dict[Key, list[S]] = {}
        self._count = 0
        self._lock = threading.Lock()

    def add(self, key: Key, span: S) -> S | None:
        """Keep ``span`` for ``key``; the oldest span given up to stay within the limit, if any."""
        with self._lock:
            self._spans.setdefault(key, []).append(span)
            self._count += 1
            if self._count <= self.limit:
                return None
            return self._take(next(iter(self._spans)))

    def pop(self, key: Key) -> S | None:
        """The first span kept for ``key``, no longer kept; None if there is none."""
        with self._lock:
            return self._take(key) if key in self._spans else None

    def _take(self, key: Key) -> S:
        waiting = self._spans[key]
        span = waiting.pop(0)
        if not waiting:
            del self._spans[key]
        self._count -= 1
        return span

    def __len__(self) -> int:
        return self._count
