"""Delayed publishes on RabbitMQ's own TTL and dead-lettering: the ladder of delay levels.

Pure: names, routing keys and declarations, shared by the publisher (which rewrites a delayed
message), the local transport (which reads the delay back) and the declaration plan.

The design of NServiceBus's delayed delivery v2 and Celery 5.5 (kombu's native delayed
delivery), with whole seconds as the unit: ``LEVELS`` levels, level ``k`` an exchange and a
queue whose messages all wait ``2**k`` seconds (``x-message-ttl``), so a queue never holds a
short wait behind a long one. A delayed message's routing key starts with its delay's
``LEVELS`` binary digits, most significant first, then one word naming its real exchange, then
its real routing key. On level ``k``'s exchange a ``1`` at digit ``k`` routes the message into
the level's queue, whose expired messages dead-letter to the next lower level's exchange; a
``0`` routes it straight on to that exchange (an exchange-to-exchange binding). Below level 0
is the delivery exchange, which binds each queue of the topology by its real exchange word
and binding pattern behind ``LEVELS`` ``*`` words, so the message reaches exactly the queues
its real routing key would have reached.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import timedelta

#: Number of levels: level k waits 2**k seconds, k = 0 .. LEVELS - 1.
LEVELS = 21
#: The longest delay, in seconds: every level once (about 24 days 6 hours).
MAX_DELAY = 2**LEVELS - 1
#: What every name of the ladder starts with; a delivered delayed message names one of its
#: exchanges as its own (seen: the delivery exchange, or the level it was published to).
PREFIX = "mqwire.delay"
#: What the name of every level's exchange starts with.
LEVEL_PREFIX = f"{PREFIX}.level"
#: Below level 0: routes each delayed message to its real queues.
DELIVERY_EXCHANGE = f"{PREFIX}.deliver"
#: The exchange word of the default exchange (no topology name contains ``~``).
DEFAULT_EXCHANGE_WORD = "~"


def level_exchange(level: int) -> str:
    return f"{LEVEL_PREFIX}{level:02d}"


def level_queue(level: int) -> str:
    """``mqwire.delay.level05.32s``: the queue where messages wait 2**level seconds."""
    return f"{level_exchange(level)}.{2**level}s"


def next_exchange(level: int) -> str:
    """Where a message goes after level ``level``: the level below, or the delivery."""
    return level_exchange(level - 1) if level > 0 else DELIVERY_EXCHANGE


def whole_seconds(delay: float | timedelta) -> int:
    """``delay`` rounded up to whole seconds, the ladder's unit (0 stays 0: no delay).

    Raises:
        ValueError: not a number or timedelta, negative, not finite, or over ``MAX_DELAY``.
    """
    if isinstance(delay, timedelta):
        seconds = delay.total_seconds()
    elif isinstance(delay, int | float) and not isinstance(delay, bool):
        seconds = float(delay)
    else:
        raise ValueError(f"delay must be seconds (int or float) or a timedelta, not {delay!r}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"delay must be 0 or more seconds, not {delay!r}")
    whole = math.ceil(seconds)
    if whole > MAX_DELAY:
        raise ValueError(
            f"delay of {seconds:g} s is over the longest one, {MAX_DELAY} s "
            f"({timedelta(seconds=MAX_DELAY)})"
        )
    return whole


def exchange_word(exchange: str) -> str:
    """One routing key word naming ``exchange`` (names hold no ``~``: the encoding is 1:1)."""
    return exchange.replace(".", "~") if exchange else DEFAULT_EXCHANGE_WORD


def routing_key(seconds: int, exchange: str, key: str) -> str:
    """The routing key of a message delayed by ``seconds`` (1 .. MAX_DELAY) on its way to
    ``exchange`` with ``key``."""
    digits = ".".join(format(seconds, f"0{LEVELS}b"))
    return f"{digits}.{exchange_word(exchange)}.{key}"


def entry_exchange(seconds: int) -> str:
    """Where a message delayed by ``seconds`` (>= 1) is published: its highest level."""
    return level_exchange(seconds.bit_length() - 1)


def is_level_exchange(exchange: str) -> bool:
    return exchange.startswith(LEVEL_PREFIX)


def parse_routing_key(delayed: str) -> tuple[int, str, str] | None:
    """(seconds, exchange, routing key) of a delayed message's routing key, or None."""
    words = delayed.split(".", LEVELS + 1)
    if len(words) != LEVELS + 2 or any(w not in ("0", "1") for w in words[:LEVELS]):
        return None
    word = words[LEVELS]
    exchange = "" if word == DEFAULT_EXCHANGE_WORD else word.replace("~", ".")
    return int("".join(words[:LEVELS]), 2), exchange, words[LEVELS + 1]


def delivered_exchange(pattern: str) -> str | None:
    """The exchange a delivery exchange's binding pattern is for, or None (not such a one)."""
    words = pattern.split(".", LEVELS + 1)
    if len(words) != LEVELS + 2 or any(w != "*" for w in words[:LEVELS]):
        return None
    word = words[LEVELS]
    return "" if word == DEFAULT_EXCHANGE_WORD else word.replace("~", ".")


def _pattern(stars: int, *rest: str) -> str:
    return ".".join(["*"] * stars + list(rest))


def level_bindings(level: int) -> tuple[tuple[str, str, str], tuple[str, str, str]]:
    """(destination type, destination, pattern) of level ``level``'s exchange: digit 1 into
    its queue, digit 0 on to the next exchange."""
    before = LEVELS - 1 - level
    return (
        ("queue", level_queue(level), _pattern(before, "1", "#")),
        ("exchange", next_exchange(level), _pattern(before, "0", "#")),
    )


def delivery_pattern(exchange: str, pattern: str) -> str:
    """The delivery exchange's pattern for a binding of ``exchange`` with ``pattern``."""
    return _pattern(LEVELS, exchange_word(exchange), pattern)


def queue_arguments(level: int) -> dict[str, int | str]:
    return {"x-message-ttl": 2**level * 1000, "x-dead-letter-exchange": next_exchange(level)}


def ladder_levels() -> Iterable[int]:
    """Every level, highest first (the order the plan lists them in)."""
    return range(LEVELS - 1, -1, -1)
