"""Safe YAML reading that remembers where every key and value sits.

Later stages (schema validation, cross-reference checks) only see plain Python data; to say
``topology.yaml:14:7: error: ...`` they look the data's path up in the spans built here. The
file is untrusted input: this module bounds its size and nesting while reading, and
:mod:`._yaml_checks` refuses what ``yaml.safe_load`` would accept but a topology never needs
(duplicate keys, non-string keys, exotic tags, alias bombs); a second document is refused
here. It is pure: text in, values out, no file I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import cast

import yaml
from yaml.error import Mark
from yaml.events import AliasEvent, Event, StreamEndEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ._yaml_checks import MAX_ALIASES, MAX_NODES, VALUE_TAG, Path, graph_errors, mark_location
from .errors import Location, PathPart, TopologyError, TopologyErrors

__all__ = [
    "MAX_ALIASES",
    "MAX_BYTES",
    "MAX_NODES",
    "ParsedYaml",
    "ScalarInfo",
    "Span",
    "locate",
    "parse_yaml",
]

#: Text larger than this many bytes (UTF-8) is refused before parsing.
MAX_BYTES = 1_048_576
#: Deeper nesting is refused while composing: it bounds recursion and the size of the paths.
_MAX_DEPTH = 64

#: What PyYAML counts as a line break when it numbers lines.
_LINE_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")


@dataclass(frozen=True)
class Span:
    """Where a value sits, and where its key does (None for sequence items and the root)."""

    key: Location | None
    value: Location


@dataclass(frozen=True)
class ScalarInfo:
    """How a scalar was written, so a later stage can hint "quote it" when ``no`` became False.

    ``text`` is the scalar's content as YAML read it, before typing it (quotes and escapes
    removed; for a plain scalar that is what was written). ``plain`` says it was unquoted.
    """

    text: str
    plain: bool


@dataclass(frozen=True)
class ParsedYaml:
    """The data (as ``yaml.safe_load`` gives it) plus the source places of every path in it."""

    data: object
    spans: Mapping[Path, Span]
    scalars: Mapping[Path, ScalarInfo]


def locate(parsed: ParsedYaml, path: Sequence[PathPart], *, key: bool = False) -> Location:
    """Where the value at ``path`` is (its key with ``key=True``, when it has one).

    An unknown path falls back to its nearest known ancestor, so an error about a missing
    child points at the parent that lacks it.
    """
    parts = tuple(path)
    while True:
        span = parsed.spans.get(parts)
        if span is not None:
            return span.key if key and span.key is not None else span.value
        if not parts:
            raise LookupError("no location is known for the document root")
        parts = parts[:-1]


def parse_yaml(text: str, source: str) -> ParsedYaml:
    """Parse one topology document, raising `TopologyErrors` with every problem found."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        message = f"file is too large: {size} bytes, the limit is {MAX_BYTES} bytes"
        raise TopologyErrors([TopologyError(Location(source, 1, 1), message)])
    return _Reader(text, source).read()


def _peek(loader: yaml.SafeLoader) -> Event:
    """The next parser event (PyYAML's stubs leave ``peek_event`` untyped)."""
    peek = cast("Callable[[], Event]", loader.peek_event)
    return peek()


def _start(event: Event) -> Mark:
    """Where an event starts; the pure-Python parser always records it."""
    mark = event.start_mark
    assert isinstance(mark, Mark)
    return mark


class _BoundExceeded(Exception):
    """Raised inside the composer to stop at the first node beyond a bound (depth or count)."""

    def __init__(self, mark: Mark, message: str) -> None:
        super().__init__(message)
        self.mark, self.message = mark, message


class _Loader(yaml.SafeLoader):
    """A SafeLoader that, while composing, notes aliases, recursion and nesting depth.

    Composing never expands aliases (an alias is the anchored node itself), so all of this
    costs time linear in the text.
    """

    def __init__(self, text: str) -> None:
        super().__init__(text)
        #: Every alias, in document order.
        self.alias_marks: list[Mark] = []
        #: Aliases that point into their own enclosing node: ``(anchor, mark)``.
        self.recursive_aliases: list[tuple[str, Mark]] = []
        #: Where an alias stood as a sequence item: ``(id(sequence), index)``.
        self.item_aliases: dict[tuple[int, int], Mark] = {}
        #: Where an alias stood as a mapping value: ``(id(key node), id(value node))``.
        self.value_aliases: dict[tuple[int, int], Mark] = {}
        self._finished: set[Node] = set()
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent: Node | None, index: int | Node | None) -> Node | None:
        self._depth += 1
        try:
            event = _peek(self)
            mark = _start(event)
            if self._depth > _MAX_DEPTH:
                raise _BoundExceeded(mark, f"nested too deeply: the limit is {_MAX_DEPTH} levels")
            self._nodes += 1
            if self._nodes > MAX_NODES:  # counted as read, not after: a huge file stops here
                raise _BoundExceeded(mark, f"document too large: more than {MAX_NODES} nodes")
            # The stubs say ``index: int``; PyYAML passes the key node for mapping values.
            node = super().compose_node(parent, cast("int", index))
            if not isinstance(event, AliasEvent):
                if node is not None:
                    self._finished.add(node)
                return node
            self.alias_marks.append(mark)  # (an undefined alias has raised above)
            if node is not None and node not in self._finished:
                self.recursive_aliases.append((str(event.anchor), mark))
            if node is not None and isinstance(index, int) and parent is not None:
                self.item_aliases[(id(parent), index)] = mark
            elif node is not None and isinstance(index, Node):
                self.value_aliases[(id(index), id(node))] = mark
            return node
        finally:
            self._depth -= 1


class _Reader:
    """One parse: compose, check the node graph, then build data and spans."""

    def __init__(self, text: str, source: str) -> None:
        self.text = text
        self.source = source
        self.errors: list[TopologyError] = []
        self.spans: dict[Path, Span] = {}
        self.scalars: dict[Path, ScalarInfo] = {}

    def read(self) -> ParsedYaml:
        try:
            loader = _Loader(self.text)
        except yaml.reader.ReaderError as exc:
            location = self._location_of_index(exc.position)
            reason = f"unacceptable character #x{exc.character:04x}: {exc.reason}"
            raise TopologyErrors([TopologyError(location, reason)]) from None
        root = self._compose(loader)
        self.errors += graph_errors(
            self.source, loader, root, loader.alias_marks, loader.recursive_aliases
        )
        if self.errors:
            raise TopologyErrors(self.errors)
        if root is None:
            self.spans[()] = Span(None, Location(self.source, 1, 1))
            data: object = None
        else:
            data = self._build(loader, root, (), None, self._at(root.start_mark))
        return ParsedYaml(data, MappingProxyType(self.spans), MappingProxyType(self.scalars))

    # -- composing ---------------------------------------------------------------------------

    def _compose(self, loader: _Loader) -> Node | None:
        """The first document's root node; None for an empty text or after a composing error."""
        root: Node | None = None
        try:
            loader.check_node()  # drops STREAM-START
            if not loader.check_event(StreamEndEvent):
                root = loader.compose_document()
            if not loader.check_event(StreamEndEvent):
                event = _peek(loader)
                explicit = getattr(event, "explicit", False)
                hint = "remove this '---'" if explicit else "remove the '...' above"
                self._error(
                    _start(event),
                    "only one YAML document is allowed per file, but a second one starts here",
                    hint=hint,
                )
        except _BoundExceeded as exc:
            self._error(exc.mark, exc.message)
            return None
        except yaml.MarkedYAMLError as exc:
            self.errors.append(self._syntax_error(exc))
            return None
        except yaml.YAMLError as exc:  # pragma: no cover - PyYAML raises marked errors here
            self.errors.append(TopologyError(Location(self.source, 1, 1), f"invalid YAML: {exc}"))
            return None
        finally:
            loader.dispose()
        return root

    def _syntax_error(self, exc: yaml.MarkedYAMLError) -> TopologyError:
        problem, context = exc.problem or "", exc.context or ""
        mark = exc.problem_mark or exc.context_mark
        location = self._at(mark) if mark else Location(self.source, 1, 1)
        related: tuple[Location, ...] = ()
        if context.startswith("found duplicate anchor"):
            # PyYAML puts the first anchor in the context and "second occurrence" as problem.
            message = context.split(";")[0]
        else:
            message = f"{problem} ({context})" if problem and context else problem or context
        if exc.context_mark and mark is not exc.context_mark:
            related = (self._at(exc.context_mark),)
        return TopologyError(location, f"invalid YAML: {message}", related=related)

    # -- building data and spans (only for a checked, bounded graph) -------------------------

    def _build(
        self, loader: _Loader, node: Node, path: Path, key: Location | None, value: Location
    ) -> object:
        self.spans[path] = Span(key, value)
        if isinstance(node, ScalarNode):
            self.scalars[path] = ScalarInfo(str(node.value), node.style is None)
            return node.value if node.tag == VALUE_TAG else loader.construct_object(node)
        if isinstance(node, SequenceNode):
            items: list[object] = []
            for index, item in enumerate(node.value):
                mark = loader.item_aliases.get((id(node), index), item.start_mark)
                items.append(self._build(loader, item, (*path, index), None, self._at(mark)))
            return items
        assert isinstance(node, MappingNode)
        loader.flatten_mapping(node)  # resolves '<<' exactly as safe_load does
        entries: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            entries[str(key_node.value)] = (key_node, value_node)  # the last one wins
        mapping: dict[str, object] = {}
        for name, (key_node, value_node) in entries.items():
            mark = loader.value_aliases.get((id(key_node), id(value_node)), value_node.start_mark)
            mapping[name] = self._build(
                loader, value_node, (*path, name), self._at(key_node.start_mark), self._at(mark)
            )
        return mapping

    # -- locations ---------------------------------------------------------------------------

    def _at(self, mark: Mark) -> Location:
        return mark_location(self.source, mark)

    def _error(self, mark: Mark, message: str, *, hint: str | None = None) -> None:
        self.errors.append(TopologyError(self._at(mark), message, hint=hint))

    def _location_of_index(self, index: int) -> Location:
        """Line and column of a character, counting line breaks as PyYAML does."""
        line, start = 1, 0
        for match in _LINE_BREAK.finditer(self.text, 0, index):
            line, start = line + 1, match.end()
        return Location(self.source, line, index - start + 1)
