"""A message on its way, without a broker: withdrawn only while unsent, waited for without
giving up, and held while the broker blocks the connection."""

from __future__ import annotations

import math

from mqwire.runtime.amqp.entries import (
    PENDING,
    Entry,
    claim,
    give_up,
    held_over,
    settle,
    wait_for,
)
from mqwire.runtime.errors import PublishBlocked, PublishTimeout
from mqwire.runtime.wire import WireMessage


def entry(hold: float = 0.0, held_until: float = 0.0) -> Entry:
    return Entry(WireMessage("", "q", b"{}", "m-1"), None, hold, held_until)


def test_a_message_not_written_is_withdrawn_and_never_claimed() -> None:
    unsent = entry()
    given_up = give_up(unsent, None, 30.0)
    assert isinstance(given_up, PublishTimeout) and not given_up.outcome_unknown
    assert "withdrawn" in str(given_up) and not claim(unsent), "the I/O thread skips it"
    settle(unsent, None)  # a late outcome for it is dropped, not raised
    assert isinstance(wait_for([unsent], 0.0)[0], PublishTimeout)


def test_a_message_written_is_not_withdrawn_its_outcome_is_unknown_then_known() -> None:
    sent = entry()
    assert claim(sent)
    assert wait_for([sent], 0.0) == [PENDING]
    given_up = give_up(sent, "low on memory", 30.0)
    assert isinstance(given_up, PublishTimeout) and given_up.outcome_unknown
    assert "may still arrive" in str(given_up)
    settle(sent, None)  # the confirm after all: a later wait sees it
    assert wait_for([sent], math.inf) == [None]


def test_while_blocked_an_unsent_message_given_up_is_publish_blocked() -> None:
    refused = give_up(entry(), "low on memory", 30.0)
    assert isinstance(refused, PublishBlocked) and not refused.outcome_unknown
    assert "the broker blocks publishing (low on memory)" in str(refused)


def test_held_messages_split_by_their_hold_withdrawn_ones_dropped() -> None:
    due, later, forever, withdrawn = (
        entry(1, 10.0),
        entry(5, 15.0),
        entry(math.inf, math.inf),
        entry(),
    )
    assert withdrawn.future.cancel()
    over, kept, next_due = held_over([due, later, forever, withdrawn], now=12.0)
    assert over == [due] and kept == [later, forever] and next_due == 15.0
    assert held_over([forever], now=12.0)[2] == math.inf
