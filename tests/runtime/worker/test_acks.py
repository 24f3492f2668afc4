"""Coalesced acks: one multiple ack per run of finished tags, never covering an unfinished one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mqwire.runtime.worker.acks import AckBatcher


class Channel:
    """Records acks the way the broker would apply them."""

    def __init__(self) -> None:
        self.is_open = True
        self.frames: list[tuple[int, bool]] = []
        self.unacked: set[int] = set()

    def basic_ack(self, tag: int, multiple: bool = False) -> None:
        self.frames.append((tag, multiple))
        if multiple:
            self.unacked = {t for t in self.unacked if t > tag}
        else:
            self.unacked.discard(tag)


def batcher() -> tuple[AckBatcher, list[Callable[[], None]]]:
    scheduled: list[Callable[[], None]] = []
    return AckBatcher(scheduled.append), scheduled


def deliver(acks: AckBatcher, channel: Channel, tags: range) -> None:
    for tag in tags:
        acks.delivered(channel, tag)
        channel.unacked.add(tag)


def test_a_run_of_finished_tags_is_one_multiple_ack_at_the_end_of_the_turn() -> None:
    acks, scheduled = batcher()
    channel = Channel()
    deliver(acks, channel, range(1, 6))
    for tag in (1, 2, 3):
        acks.ack(channel, tag)

    assert channel.frames == [] and len(scheduled) == 1, "one flush per turn, nothing sent yet"
    scheduled.pop()()
    assert channel.frames == [(3, True)]
    assert channel.unacked == {4, 5}


def test_a_tag_behind_an_unfinished_one_is_acked_alone() -> None:
    acks, scheduled = batcher()
    channel = Channel()
    deliver(acks, channel, range(1, 5))
    acks.ack(channel, 2)
    acks.ack(channel, 4)
    scheduled.pop()()

    assert channel.frames == [(2, False), (4, False)]
    assert channel.unacked == {1, 3}, "the slow ones stay unacked"

    acks.ack(channel, 1)
    acks.ack(channel, 3)
    scheduled.pop()()
    assert channel.frames[2:] == [(3, True)]
    assert channel.unacked == set()


def test_a_requeued_tag_is_skipped_but_an_outstanding_one_blocks_the_multiple_ack() -> None:
    acks, scheduled = batcher()
    channel = Channel()
    deliver(acks, channel, range(1, 5))
    acks.settled(channel, 1)  # nacked with requeue: settled on the broker
    channel.unacked.discard(1)
    acks.ack(channel, 2)
    acks.ack(channel, 4)  # 3 still runs (or was left outstanding by a forced stop)
    scheduled.pop()()

    assert channel.frames == [(2, True), (4, False)]
    assert channel.unacked == {3}


def test_a_tag_finished_twice_is_not_acked_again_and_the_channel_keeps_acking() -> None:
    """A second ack of a settled tag would make the broker close the channel (406), sending
    every other unacked message of it back to run again."""
    acks, scheduled = batcher()
    channel = Channel()
    deliver(acks, channel, range(1, 5))
    acks.settled(channel, 3)  # dead-lettered: settled by a nack
    channel.unacked.discard(3)
    acks.ack(channel, 3)  # and then finished again
    acks.ack(channel, 2)
    scheduled.pop()()
    acks.ack(channel, 1)
    acks.ack(channel, 4)
    scheduled.pop()()

    assert channel.frames == [(2, False), (4, True)]
    assert channel.unacked == set()


def test_acks_for_a_closed_channel_are_dropped_and_its_tags_forgotten() -> None:
    acks, scheduled = batcher()
    channel, other = Channel(), Channel()
    deliver(acks, channel, range(1, 3))
    deliver(acks, other, range(1, 2))
    acks.ack(channel, 1)
    acks.ack(other, 1)
    channel.is_open = False
    scheduled.pop()()

    assert channel.frames == [] and other.frames == [(1, True)]
    acks.ack(channel, 2)
    scheduled.pop()()
    assert channel.frames == [], "a dead channel's tags are never acked"


def test_channels_are_independent() -> None:
    acks, scheduled = batcher()
    first, second = Channel(), Channel()
    deliver(acks, first, range(1, 3))
    deliver(acks, second, range(1, 3))
    acks.ack(first, 2)
    acks.ack(second, 1)
    scheduled.pop()()

    assert (first.frames, second.frames) == ([(2, False)], [(1, True)])


def test_an_error_while_acking_forgets_the_channel() -> None:
    acks, scheduled = batcher()

    class Dying(Channel):
        def basic_ack(self, tag: int, multiple: bool = False) -> Any:
            raise ConnectionError("gone")

    channel = Dying()
    deliver(acks, channel, range(1, 3))
    acks.ack(channel, 1)
    scheduled.pop()()
    acks.ack(channel, 2)
    scheduled.pop()()  # no error: the channel's tags were forgotten
