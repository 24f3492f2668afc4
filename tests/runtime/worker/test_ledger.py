"""The ledger of decided outcomes (bounded, keyed by queue, message id and attempt) and the
jittered waits between attempts at a copy."""

from __future__ import annotations

import pytest

from mqwire.runtime.dispatch import Action, Delivery, Outcome
from mqwire.runtime.worker.ledger import Ledger
from mqwire.runtime.worker.policy import jittered

RETRY = Outcome(Action.RETRY, "t", delay=5.0)


def delivery(message_id: str = "m-1", attempt: int = 1, queue: str = "q") -> Delivery:
    headers = {"x-mqwire-attempt": attempt}
    return Delivery(queue, b"{}", {"message_id": message_id, "headers": headers}, queue)


def test_an_outcome_is_found_by_queue_message_id_and_attempt_only() -> None:
    ledger = Ledger(10)
    entry = ledger.decided(delivery(), RETRY)
    assert ledger.get(delivery()) is entry and entry.outcome == RETRY and not entry.copied
    assert ledger.get(delivery(attempt=2)) is None, "the next attempt is a new message"
    assert ledger.get(delivery(queue="other")) is None
    assert ledger.get(delivery("m-2")) is None


def test_the_first_decision_stands() -> None:
    ledger = Ledger(10)
    first = ledger.decided(delivery(), RETRY)
    first.copied = True
    again = ledger.decided(delivery(), Outcome(Action.DEAD_LETTER, "t"))
    assert again is first and again.outcome == RETRY and again.copied


def test_a_message_without_an_id_is_not_tracked() -> None:
    ledger = Ledger(10)
    ledger.decided(delivery(""), RETRY)
    assert len(ledger) == 0 and ledger.get(delivery("")) is None


def test_the_least_recently_used_entry_is_forgotten_first() -> None:
    ledger = Ledger(2)
    for message_id in ("a", "b"):
        ledger.decided(delivery(message_id), RETRY)
    ledger.decided(delivery("a"), RETRY)  # used again: now "b" is the oldest
    ledger.decided(delivery("c"), RETRY)
    assert len(ledger) == 2
    assert ledger.get(delivery("b")) is None
    assert ledger.get(delivery("a")) and ledger.get(delivery("c"))


def test_a_ledger_needs_room() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Ledger(0)


def test_waits_are_scaled_down_by_at_most_the_jitter() -> None:
    assert list(jittered((0.5, 1.0, 8.0), 0.5, rng=lambda: 0.0)) == [0.5, 1.0, 8.0]
    assert list(jittered((0.5, 1.0, 8.0), 0.5, rng=lambda: 1.0)) == [0.25, 0.5, 4.0]
    assert list(jittered((), 0.5)) == []


def test_requeues_are_counted_per_message_and_attempt_even_without_an_id() -> None:
    ledger = Ledger(2)
    with_id = Delivery("q", b"{}", {"message_id": "m-1"}, "q")
    no_id = Delivery("q", b"{}", {}, "q")
    next_attempt = Delivery(
        "q", b"{}", {"message_id": "m-1", "headers": {"x-mqwire-attempt": 2}}, "q"
    )

    assert [ledger.requeued(with_id) for _ in range(3)] == [1, 2, 3]
    assert [ledger.requeued(no_id) for _ in range(2)] == [1, 2], "known by its body"
    assert ledger.requeued(next_attempt) == 1, "a retry's copy is another attempt"
    assert ledger.requeued(with_id) == 1, "bounded: the least recently counted was forgotten"
