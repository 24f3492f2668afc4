"""A consuming pika channel as the worker sees it (``worker.ports.ConsumerChannel``).

Acks and nacks with pika's errors turned into ``Lost``, and how to tell the broker's
consumer timeout from any other close of the channel: both stay at this edge.
"""

from __future__ import annotations

from typing import Any

import pika  # type: ignore[import-untyped]

from ..errors import Lost, describe_error

__all__ = ["PIKA_ERRORS", "PikaConsumerChannel", "consumer_timeout"]

#: What pika raises, at once or through a callback, when the broker or the socket fails.
PIKA_ERRORS = (pika.exceptions.AMQPError, OSError)


def consumer_timeout(exc: BaseException) -> bool:
    """Whether the broker closed a channel because a delivery stayed unacked past its
    ``consumer_timeout`` (406 "delivery acknowledgement on channel N timed out")."""
    text = str(getattr(exc, "reply_text", ""))
    return (
        getattr(exc, "reply_code", None) == 406
        and "acknowledgement" in text
        and "timed out" in text
    )


class PikaConsumerChannel:
    """A consuming pika channel with pika's errors translated (``worker.ports.ConsumerChannel``)."""

    __slots__ = ("_channel",)

    def __init__(self, channel: Any) -> None:
        self._channel = channel

    @property
    def is_open(self) -> bool:
        return bool(self._channel.is_open)

    def basic_ack(self, delivery_tag: int, multiple: bool = False) -> None:
        try:
            self._channel.basic_ack(delivery_tag, multiple)
        except PIKA_ERRORS as exc:
            raise Lost(f"acking: {describe_error(exc)}") from None

    def basic_nack(self, delivery_tag: int, requeue: bool = True) -> None:
        try:
            self._channel.basic_nack(delivery_tag, requeue=requeue)
        except PIKA_ERRORS as exc:
            raise Lost(f"requeueing: {describe_error(exc)}") from None

    def cancel(self) -> None:
        channel = self._channel
        if not channel.is_open:
            return
        try:
            for tag in list(channel.consumer_tags):
                channel.basic_cancel(tag)
        except PIKA_ERRORS:  # closing under us: the close ends its consumers anyway
            pass
