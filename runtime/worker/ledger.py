"""Outcomes decided here whose settling may not have reached the broker: a redelivery is settled
from them instead of running the task again.

The broker redelivers a message whose ack it never saw: the channel closed before the ack, or
the connection dropped while the message was parked, or the broker's consumer timeout closed the
channel under a running task (recorded here as that attempt's failure). Running its task again
would add a run the queue's retry policy never allowed, so the worker looks a redelivered message
up here first. The ledger also counts the times a message was handed straight back to the queue
after an error of mqwire's own, so that such requeues stay bounded.

Limits, on purpose: the ledger lives in the process (a restart forgets it, so a restart may cost
at most one more run of each message in doubt); it is keyed by queue, ``message_id`` and attempt
(a message without an id is not tracked); and it is bounded, the least recently used entry
forgotten first. Pure: no clock, no I/O.
"""

from __future__ import annotations

from collections import OrderedDict

from ..dispatch import Delivery, Outcome

Key = tuple[str, str, int]


class Decided:
    """An outcome and how far its settling got: ``copied`` once its copy was confirmed."""

    __slots__ = ("copied", "outcome")

    def __init__(self, outcome: Outcome, *, copied: bool = False) -> None:
        self.outcome, self.copied = outcome, copied


class Ledger:
    """At most ``size`` decided outcomes, by (queue, message id, attempt); loop thread only."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"the ledger needs room for at least one entry, got {size}")
        self._size = size
        self._entries: OrderedDict[Key, Decided] = OrderedDict()
        self._requeues: OrderedDict[Key, int] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    @staticmethod
    def key_of(delivery: Delivery) -> Key | None:
        """Which entry a delivery is: its queue, message id and attempt (None without an id)."""
        message_id = delivery.message_id
        return (delivery.queue, message_id, delivery.attempt) if message_id else None

    def decided(self, delivery: Delivery, outcome: Outcome, *, copied: bool = False) -> Decided:
        """The entry of ``delivery``: the one recorded before, else ``outcome``, recorded now."""
        key = self.key_of(delivery)
        if key is None:  # untracked: an entry nobody will find
            return Decided(outcome, copied=copied)
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = Decided(outcome, copied=copied)
            if len(self._entries) > self._size:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(key)
        return entry

    def get(self, delivery: Delivery) -> Decided | None:
        """What was decided for this message (same queue, id and attempt), if anything."""
        key = self.key_of(delivery)
        return None if key is None else self._entries.get(key)

    def requeued(self, delivery: Delivery) -> int:
        """Count one more immediate requeue of this message; how many so far (1 the first time).

        A message without an id is known by a digest of its body, so it is bounded too.
        """
        key = self.key_of(delivery)
        if key is None:  # rare: hashlib only then (it costs every worker 0.7 MiB at start)
            import hashlib

            digest = hashlib.blake2b(delivery.body, digest_size=16).hexdigest()
            key = (delivery.queue, digest, delivery.attempt)
        count = self._requeues.pop(key, 0) + 1
        self._requeues[key] = count
        if len(self._requeues) > self._size:
            self._requeues.popitem(last=False)
        return count
