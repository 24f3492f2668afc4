"""AMQP topic matching: one matcher for compile-time checks and for the local transport.

RabbitMQ's topic exchange splits routing keys and binding patterns into words on ``.``;
in a pattern the whole word ``*`` matches exactly one word and the whole word ``#`` matches
zero or more words. The local transport must route exactly as the broker does, so both the
checks and the transport use the code below (and the tests prove it against a real broker).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Final

from .model import Route

#: Our naming rule for one word of a routing key or binding pattern.
NAME_CHARS: Final = r"[A-Za-z0-9_-]+"

#: AMQP sends routing keys and binding keys as short strings: at most 255 bytes.
MAX_KEY_BYTES: Final = 255

#: The two wildcard words of a binding pattern.
STAR: Final = "*"
HASH: Final = "#"
_WILDCARDS: Final = frozenset((STAR, HASH))

#: Distinct routing keys whose routes a RouteTable remembers (the local transport's hot path).
CACHE_SIZE: Final = 4096

_WORD: Final = re.compile(NAME_CHARS)


def _words(text: str) -> list[str]:
    """Split like RabbitMQ: ``""`` has zero words, ``"a."`` has two (``"a"`` and ``""``)."""
    return text.split(".") if text else []


def _problem(text: str, what: str, wildcards: bool) -> str | None:
    """The first thing wrong with ``text`` (a pattern or a routing key), or None."""
    if not text:
        return f"the {what} is empty; it needs at least one word."
    size = len(text.encode("utf-8"))
    if size > MAX_KEY_BYTES:
        return (
            f"the {what} is {size} bytes long in UTF-8, "
            f"more than the {MAX_KEY_BYTES} that AMQP allows."
        )
    for char in text:
        if char not in ".*#" and not _WORD.fullmatch(char):
            return (
                f"the {what} {text!r} contains the character {char!r}, which is not allowed; "
                "words use only ASCII letters, digits, '_' and '-', separated by '.'."
            )
    for word in text.split("."):
        if not word:
            return (
                f"the {what} {text!r} has an empty word (a leading, trailing or double '.'); "
                "write words separated by single dots."
            )
        if _WORD.fullmatch(word):
            continue
        # Only name characters and wildcards are left: a wildcard word or a mixed word.
        if not wildcards:
            return (
                f"the {what} {text!r} contains a wildcard (in the word {word!r}); '*' and '#' "
                "only belong in binding patterns, a routing key names one exact topic."
            )
        if word not in _WILDCARDS:
            return (
                f"the word {word!r} of the {what} {text!r} mixes a wildcard with other "
                "characters; '*' and '#' only work as whole words, as in 'a.*' or 'a.#'."
            )
    return None


def pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` is not a valid binding pattern, or None; a typo here silently drops mail."""
    return _problem(pattern, "pattern", wildcards=True)


def routing_key_problem(key: str) -> str | None:
    """Why ``key`` is not a valid routing key, or None; a wildcard here is a literal to RabbitMQ."""
    return _problem(key, "routing key", wildcards=False)


def topic_matches(pattern: str, routing_key: str) -> bool:
    """Whether RabbitMQ routes ``routing_key`` through a binding with ``pattern``.

    A dynamic programme over words, so patterns with several ``#`` stay O(len(p) * len(k)).
    """
    words = _words(routing_key)
    n = len(words)
    # reach[j]: the pattern words seen so far can consume exactly the first j key words.
    reach = [True] + [False] * n
    for pword in _words(pattern):
        if pword == HASH:
            # Zero or more words: once j is reachable, every later j is too.
            for j in range(1, n + 1):
                reach[j] = reach[j] or reach[j - 1]
        else:
            # One word (any word for '*'); walk backwards so each step uses the old row.
            for j in range(n, 0, -1):
                reach[j] = reach[j - 1] and (pword == STAR or pword == words[j - 1])
            reach[0] = False
    return reach[n]


class _Node:
    """One trie node: routes whose pattern ends here, and children by next word. Compared and
    hashed by identity (the lookup's visited set); a plain class, as a dataclass would compile
    its methods at every import."""

    __slots__ = ("children", "hash", "routes", "star")

    def __init__(
        self,
        routes: tuple[Route, ...],
        children: Mapping[str, _Node],
        star: _Node | None,
        hash: _Node | None,
    ) -> None:
        self.routes, self.children, self.star, self.hash = routes, children, star, hash


class _Builder:
    """A mutable trie node, used only while a RouteTable is built."""

    def __init__(self) -> None:
        self.routes: list[Route] = []
        self.children: dict[str, _Builder] = {}

    def freeze(self) -> _Node:
        star = self.children.pop(STAR, None)
        hash_ = self.children.pop(HASH, None)
        return _Node(
            routes=tuple(self.routes),
            children=MappingProxyType({w: c.freeze() for w, c in self.children.items()}),
            star=None if star is None else star.freeze(),
            hash=None if hash_ is None else hash_.freeze(),
        )


_Lookup = Callable[[str], tuple[tuple[Route, ...], tuple[str, ...]]]


class RouteTable:
    """Topic bindings of one exchange, answering "where does this routing key go?" fast.

    Patterns live in a word trie, so a lookup walks the key's words instead of testing every
    pattern, and answers are cached per routing key. Duplicate routes count once, since
    binding the same pattern to the same queue twice is a no-op in RabbitMQ. Immutable.
    """

    __slots__ = ("_lookup", "_root", "_size")

    _root: _Node
    _size: int
    _lookup: _Lookup

    def __init__(self, routes: Iterable[Route]) -> None:
        unique = sorted(set(routes), key=lambda r: (r.pattern, r.queue))
        root = _Builder()
        for route in unique:
            node = root
            for word in _words(route.pattern):
                node = node.children.setdefault(word, _Builder())
            node.routes.append(route)
        object.__setattr__(self, "_root", root.freeze())
        object.__setattr__(self, "_size", len(unique))
        # A bounded cache per table (not per class), so tables never share answers.
        object.__setattr__(self, "_lookup", functools.lru_cache(maxsize=CACHE_SIZE)(self._find))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __len__(self) -> int:
        return self._size

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._size} routes>"

    def queues_for(self, routing_key: str) -> tuple[str, ...]:
        """The distinct queues reached, sorted: RabbitMQ delivers one copy per queue."""
        return self._lookup(routing_key)[1]

    def routes_for(self, routing_key: str) -> tuple[Route, ...]:
        """Every route whose pattern matches ``routing_key``, sorted by (pattern, queue)."""
        return self._lookup(routing_key)[0]

    def _find(self, routing_key: str) -> tuple[tuple[Route, ...], tuple[str, ...]]:
        """Walk the trie over the key's words; each (node, position) state is visited once."""
        words = _words(routing_key)
        n = len(words)
        found: set[Route] = set()
        seen: set[tuple[_Node, int]] = set()
        todo: list[tuple[_Node, int]] = [(self._root, 0)]
        while todo:
            node, i = todo.pop()
            if (node, i) in seen:
                continue
            seen.add((node, i))
            if node.hash is not None:
                # '#' swallows zero or more words: continue after it from every later position.
                todo.extend((node.hash, j) for j in range(i, n + 1))
            if i == n:
                found.update(node.routes)
                continue
            child = node.children.get(words[i])
            if child is not None:
                todo.append((child, i + 1))
            if node.star is not None:
                todo.append((node.star, i + 1))
        routes = tuple(sorted(found, key=lambda r: (r.pattern, r.queue)))
        return routes, tuple(sorted({r.queue for r in routes}))
