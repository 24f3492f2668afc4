"""The publisher's messages on their way, and what a caller learns about each.

An ``Entry`` is one message handed to the transport's I/O thread. Its ``future`` is the only
thing a caller and the I/O thread share, and it carries the one fact that decides whether a
message may be published again: while it is pending, nothing of the message was written, and
``cancel()`` withdraws it for good; from the moment it runs (``claim``), the broker may get the
message, and a caller that stops waiting knows the outcome only as unknown. No pika here.
"""

from __future__ import annotations

import collections
import contextlib
import enum
import math
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import CancelledError, Future, InvalidStateError
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from ..errors import PublishBlocked, PublishError, PublishNacked, PublishTimeout, Unroutable
from ..wire import WireMessage


class Pending(enum.Enum):
    """``wait``'s answer for a message still on its way: a later ``wait`` continues."""

    PENDING = "pending"


PENDING = Pending.PENDING


class Entry:
    """One message on its way: what to publish and where its outcome goes.

    ``future`` runs (``cancel()`` fails) from the moment the message is written. A plain class
    with slots: one is made per message published.
    """

    __slots__ = ("future", "held_until", "hold", "message", "properties", "returned")

    def __init__(
        self, message: WireMessage, properties: Any, hold: float = 0.0, held_until: float = 0.0
    ) -> None:
        self.message = message
        self.properties = properties  # pika.BasicProperties
        self.hold = hold  # seconds it may wait for a blocked connection to be unblocked
        self.held_until = held_until  # monotonic time its hold ends (inf: until unblocked)
        self.future: Future[PublishError | None] = Future()
        self.returned: str | None = None  # "312 NO_ROUTE" once a basic.return arrived for it


def error_for(
    kind: type[PublishError], cause: str, entry: Entry, *, unknown: bool = False
) -> PublishError:
    """``kind`` of error for ``entry``, naming the message and where it was going."""
    m = entry.message
    return kind(
        f"{cause} (message {m.message_id!r} to exchange {m.exchange!r}, "
        f"routing key {m.routing_key!r})",
        message_id=m.message_id,
        exchange=m.exchange,
        routing_key=m.routing_key,
        outcome_unknown=unknown,
    )


def blocked_error(reason: str, entry: Entry) -> PublishError:
    """``PublishBlocked`` for a message the broker's block kept from being sent."""
    waited = f" for {entry.hold:g} s" if entry.hold else ""
    cause = f"the broker blocks publishing ({reason}){waited}; the message was not sent"
    return error_for(PublishBlocked, cause, entry)


def settle(entry: Entry, outcome: PublishError | None) -> None:
    """Tell ``entry``'s caller its outcome, unless it withdrew the message meanwhile."""
    with contextlib.suppress(InvalidStateError):
        entry.future.set_result(outcome)


def claim(entry: Entry) -> bool:
    """Called just before writing ``entry``: False if its caller withdrew it (skip it);
    True, and its caller can no longer withdraw it."""
    return not entry.future.done() and entry.future.set_running_or_notify_cancel()


def wait_for(entries: Sequence[Entry], deadline: float) -> list[PublishError | Pending | None]:
    """Each entry's outcome, or ``PENDING`` if it has none by ``deadline`` (monotonic; inf
    waits for good). Nothing is given up: a later call goes on waiting."""
    outcomes: list[PublishError | Pending | None] = []
    for entry in entries:
        left = None if math.isinf(deadline) else max(0.0, deadline - time.monotonic())
        try:
            outcomes.append(entry.future.result(timeout=left))
        except FutureTimeout:
            outcomes.append(PENDING)
        except CancelledError:  # its caller withdrew it (``cancel()``) before it was written
            outcomes.append(error_for(PublishTimeout, "withdrawn, never sent", entry))
    return outcomes


def give_up(entry: Entry, blocked: str | None, confirm_timeout: float) -> PublishError | None:
    """Stop waiting for ``entry``: withdraw it if it was not written, else say it may arrive."""
    if entry.future.cancel():  # never written: it never will be
        if blocked is not None:
            return blocked_error(blocked, entry)
        cause = f"not sent within {confirm_timeout:g} s; withdrawn"
        return error_for(PublishTimeout, cause, entry)
    if entry.future.done():  # settled just now
        return entry.future.result()
    cause = f"no confirm within {confirm_timeout:g} s; it may still arrive"
    return error_for(PublishTimeout, cause, entry, unknown=True)


def held_over(outbox: Iterable[Entry], now: float) -> tuple[list[Entry], list[Entry], float]:
    """Split queued entries while blocked: those whose hold is over, those kept (withdrawn
    ones dropped), and when the next hold ends (inf: none)."""
    over: list[Entry] = []
    kept: list[Entry] = []
    for entry in outbox:
        if entry.future.done():
            continue  # withdrawn by its caller
        (over if entry.held_until <= now else kept).append(entry)
    return over, kept, min((entry.held_until for entry in kept), default=math.inf)


def returned_entry(pending: Iterable[Entry], key: tuple[str, str, str]) -> Entry | None:
    """The message a ``basic.return`` (``key``: message id, exchange, routing key) is about.

    A return carries no delivery tag. It precedes its own ack but may overtake the acks of
    earlier routed messages, so match id, exchange and key, then take the oldest. (Same id and
    destination route alike, short of a binding change mid-flight.)
    """
    for entry in pending:
        m = entry.message
        destination = (m.message_id, m.exchange, m.routing_key)
        if entry.returned is None and m.mandatory and destination == key:
            return entry
    return None


def confirmed(
    pending: collections.OrderedDict[int, Entry], tag: int, multiple: bool
) -> list[Entry]:
    """Take the messages a confirm (``basic.ack``/``nack``) settles out of ``pending``."""
    if not multiple:
        one = pending.pop(tag, None)
        return [one] if one is not None else []
    settled = []
    while pending and next(iter(pending)) <= tag:
        settled.append(pending.popitem(last=False)[1])
    return settled


def confirm_outcome(entry: Entry, acked: bool) -> PublishError | None:
    """A confirmed message's outcome: returned (unroutable), taken, or refused."""
    if entry.returned is not None:
        return error_for(Unroutable, f"unroutable, returned by the broker: {entry.returned}", entry)
    if acked:
        return None
    return error_for(PublishNacked, "refused by the broker (basic.nack)", entry)
