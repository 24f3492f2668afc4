"""Routing changes between two topologies, found with the same matcher the runtime uses.

For each publisher_consumer on both sides, example routing keys are derived from both sides'
binding patterns (``*`` becomes one word, ``#`` zero, one and two words) and from every
queue's own name; each key is routed through both sides' :class:`RouteTable` and the keys
whose set of queues differs are reported. Keys that reached no queue before are left out:
publishing them was refused as unroutable, so no existing traffic moves (new routes are listed
as additive changes).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from mqwire.topology.model import Topology
from mqwire.topology.routing import HASH, STAR, RouteTable, routing_key_problem

#: What the wildcard words become in example keys.
STAR_WORDS: tuple[str, ...] = ("x",)
HASH_WORDS: tuple[str, ...] = ("", "x", "x.y")

#: At most this many example keys per pattern (a pattern with many wildcards multiplies them).
MAX_KEYS_PER_PATTERN = 27

#: (routing key, queues before, queues after).
KeyChange = tuple[str, tuple[str, ...], tuple[str, ...]]


def example_keys(pattern: str) -> list[str]:
    """Concrete routing keys matching ``pattern``, wildcards replaced by sample words."""
    choices = [
        HASH_WORDS if word == HASH else STAR_WORDS if word == STAR else (word,)
        for word in pattern.split(".")
    ]
    keys: list[str] = []
    for combo in itertools.islice(itertools.product(*choices), MAX_KEYS_PER_PATTERN):
        key = ".".join(word for word in combo if word)
        if routing_key_problem(key) is None:
            keys.append(key)
    return keys


class _Router:
    """Where one publisher_consumer's publishes go in one topology."""

    def __init__(self, topology: Topology, name: str) -> None:
        pc = topology.publisher_consumers[name]
        self.patterns = [r.pattern for r in topology.effective_routes(name)]
        self.table: RouteTable | None = None
        if pc.exchange or pc.routes:
            self.table = RouteTable(topology.effective_routes(name))
        self.queues = frozenset(topology.queues)

    def queues_for(self, key: str) -> tuple[str, ...]:
        if self.table is not None:
            return self.table.queues_for(key)
        # No exchange: the default exchange delivers to the queue named like the key.
        return (key,) if key in self.queues else ()


def _keys(old: _Router, new: _Router) -> Iterable[str]:
    keys: set[str] = set(old.queues | new.queues)
    for pattern in {*old.patterns, *new.patterns}:
        keys.update(example_keys(pattern))
    return sorted(keys)


def routing_differences(old: Topology, new: Topology) -> dict[str, list[KeyChange]]:
    """Per publisher_consumer on both sides: example keys that now reach other queues."""
    result: dict[str, list[KeyChange]] = {}
    for name in sorted(set(old.publisher_consumers) & set(new.publisher_consumers)):
        before, after = _Router(old, name), _Router(new, name)
        if before.table is None and after.table is None:
            continue  # the default exchange: only queues added or removed change it
        changed = [
            (key, was, now)
            for key in _keys(before, after)
            if (was := before.queues_for(key)) and was != (now := after.queues_for(key))
        ]
        if changed:
            result[name] = changed
    return result
