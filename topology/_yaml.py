"""Safe YAML reading that remembers where every key and value sits.

Later stages (schema validation, cross-reference checks) only see plain Python data; to say
``topology.yaml:14:7: error: ...`` they look the data's path up in the spans built here. The
file is untrusted input, so this module also refuses what ``yaml.safe_load`` would accept but a
topology never needs: duplicate keys (PyYAML silently keeps the last), non-string keys, exotic
tags, several documents, and alias bombs. It is pure: text in, values out, no file I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import cast

import yaml
from yaml.error import Mark
from yaml.events import AliasEvent, Event, StreamEndEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import Location, PathPart, TopologyError, TopologyErrors

#: Text larger than this many bytes (UTF-8) is refused before parsing.
MAX_BYTES = 1_048_576
#: At most this many aliases (``*name``) per file.
MAX_ALIASES = 100
#: At most this many nodes once every alias is expanded ("billion laughs" protection).
MAX_NODES = 100_000
#: Deeper nesting is refused while composing: it bounds recursion and the size of the paths.
_MAX_DEPTH = 64

_TAG = "tag:yaml.org,2002:"
_STR, _SEQ, _MAP = _TAG + "str", _TAG + "seq", _TAG + "map"
_MERGE, _VALUE = _TAG + "merge", _TAG + "value"
#: Tags a scalar may carry (implicitly resolved or written): YAML 1.1 as ``safe_load`` types it.
_SCALAR_TAGS = {_TAG + t for t in ("str", "int", "float", "bool", "null", "timestamp")}
_KIND_NAMES = {
    _TAG + "int": "an integer",
    _TAG + "float": "a number",
    _TAG + "bool": "a boolean",
    _TAG + "null": "null",
    _TAG + "timestamp": "a date",
}
#: What PyYAML counts as a line break when it numbers lines.
_LINE_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")
#: An anchor written before a tag on the same line (``&name !tag``).
_ANCHOR_PREFIX = re.compile(r"&[^\s,\[\]{}]+[ \t]+(?=!)")

Path = tuple[PathPart, ...]


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


class _TooDeepError(Exception):
    """Raised inside the composer to stop at the first node nested beyond `_MAX_DEPTH`."""

    def __init__(self, mark: Mark) -> None:
        super().__init__(mark)
        self.mark = mark


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

    def compose_node(self, parent: Node | None, index: int | Node | None) -> Node | None:
        self._depth += 1
        try:
            event = _peek(self)
            mark = _start(event)
            if self._depth > _MAX_DEPTH:
                raise _TooDeepError(mark)
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
    """One parse: compose, check the node graph, measure it, then build data and spans."""

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
        root, complete = self._compose(loader)
        if len(loader.alias_marks) > MAX_ALIASES:
            self._error(
                loader.alias_marks[MAX_ALIASES],
                f"too many aliases: the limit is {MAX_ALIASES} per file",
            )
        for anchor, mark in loader.recursive_aliases:
            self._error(
                mark,
                f"alias '*{anchor}' refers to a node that contains it",
                hint="recursive structures are not allowed",
            )
        if complete and root is not None:
            self._check(loader, root, (), set())
            if not loader.recursive_aliases and self._expanded_size(root, {}) > MAX_NODES:
                self.errors.append(
                    TopologyError(
                        Location(self.source, 1, 1),
                        f"document too large: more than {MAX_NODES} nodes once aliases are "
                        "expanded",
                    )
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

    def _compose(self, loader: _Loader) -> tuple[Node | None, bool]:
        """The first document's root node, and whether composing got through without error."""
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
        except _TooDeepError as exc:
            self._error(exc.mark, f"nested too deeply: the limit is {_MAX_DEPTH} levels")
            return None, False
        except yaml.MarkedYAMLError as exc:
            self.errors.append(self._syntax_error(exc))
            return None, False
        except yaml.YAMLError as exc:  # pragma: no cover - PyYAML raises marked errors here
            self.errors.append(TopologyError(Location(self.source, 1, 1), f"invalid YAML: {exc}"))
            return None, False
        finally:
            loader.dispose()
        return root, True

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

    # -- checking the node graph (each node once) --------------------------------------------

    def _check(self, loader: _Loader, node: Node, path: Path, seen: set[Node]) -> None:
        """Report bad tags, bad keys and unreadable scalars; an aliased node is checked once."""
        if node in seen:
            return
        seen.add(node)
        if isinstance(node, ScalarNode):
            self._check_scalar(loader, node, path)
        elif isinstance(node, SequenceNode):
            if self._check_tag(node, path, _SEQ, "a list"):
                for index, item in enumerate(node.value):
                    self._check(loader, item, (*path, index), seen)
        elif isinstance(node, MappingNode) and self._check_tag(node, path, _MAP, "a mapping"):
            self._check_mapping(loader, node, path, seen)

    def _check_tag(self, node: Node, path: Path, expected: str, kind: str) -> bool:
        if node.tag == expected:
            return True
        self._tag_error(node, path, kind)
        return False

    def _tag_error(self, node: Node, path: Path, kind: str) -> None:
        tag = node.tag[len(_TAG) :] if node.tag.startswith(_TAG) else None
        shown = f"!!{tag}" if tag is not None else node.tag
        if node.tag == _MERGE:
            message = "the merge key '<<' can only be used as a mapping key"
            hint = "quote it if it is meant as text"
        elif node.tag in _SCALAR_TAGS or tag in ("seq", "map"):
            message, hint = f"tag {shown!r} cannot be used on {kind}", "remove the tag"
        else:
            message = (
                f"unsupported tag {shown!r}: only plain YAML values are allowed (strings, "
                "numbers, booleans, null, dates, lists and mappings)"
            )
            hint = "remove the tag"
        self.errors.append(TopologyError(self._tag_location(node), message, path=path, hint=hint))

    def _check_scalar(self, loader: _Loader, node: ScalarNode, path: Path) -> None:
        if node.tag in (_STR, _VALUE):
            return
        if node.tag not in _SCALAR_TAGS:
            self._tag_error(node, path, "a scalar")
            return
        try:
            loader.construct_object(node)
        except (yaml.YAMLError, ValueError, TypeError, KeyError, AttributeError, OverflowError):
            kind = _KIND_NAMES.get(node.tag, node.tag)
            self.errors.append(
                TopologyError(
                    self._at(node.start_mark),
                    f"cannot read {node.value!r} as {kind}",
                    path=path,
                    hint="quote it if it is meant as text",
                )
            )

    def _check_mapping(
        self, loader: _Loader, node: MappingNode, path: Path, seen: set[Node]
    ) -> None:
        first: dict[str, Node] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE and isinstance(key_node, ScalarNode):
                self._check_merge(loader, value_node, path, seen)
                key = "<<"
                hint = "merge several mappings with one key: '<<: [*a, *b]'"
            else:
                key_text = self._check_key(loader, key_node, path)
                if key_text is None:
                    continue
                key = key_text
                hint = "YAML keeps only the last one; remove or rename one of them"
                self._check(loader, value_node, (*path, key), seen)
            if key in first:
                self.errors.append(
                    TopologyError(
                        self._at(key_node.start_mark),
                        f"duplicate key {key!r}",
                        path=(*path, key) if key_node.tag != _MERGE else path,
                        hint=hint,
                        related=(self._at(first[key].start_mark),),
                    )
                )
            else:
                first[key] = key_node

    def _check_key(self, loader: _Loader, node: Node, path: Path) -> str | None:
        """The key's string, or None after reporting why it is not one."""
        if isinstance(node, ScalarNode) and node.tag in (_STR, _VALUE):
            return str(node.value)
        location = self._at(node.start_mark)
        if not isinstance(node, ScalarNode):
            kind = "a list" if isinstance(node, SequenceNode) else "a mapping"
            message = f"mapping keys must be strings, not {kind}"
            self.errors.append(TopologyError(location, message, path=path))
            return None
        if node.tag not in _SCALAR_TAGS:
            self._tag_error(node, path, "a mapping key")
            return None
        text = str(node.value)
        if not text:
            message = "mapping keys must be strings, but this key is empty (read as null)"
            self.errors.append(TopologyError(location, message, path=path))
            return None
        message = f"mapping keys must be strings, but {text!r} is read as {_KIND_NAMES[node.tag]}"
        try:
            value = loader.construct_object(node)
        except (yaml.YAMLError, ValueError, TypeError, KeyError, AttributeError, OverflowError):
            pass
        else:
            if value is not None and str(value) != text:
                message += f" ({value})"
        hint = f"quote the key to keep it as text: {json.dumps(text, ensure_ascii=False)}:"
        self.errors.append(TopologyError(location, message, path=path, hint=hint))
        return None

    def _check_merge(self, loader: _Loader, value: Node, path: Path, seen: set[Node]) -> None:
        """``<<`` takes a mapping or a list of mappings (as `SafeConstructor.flatten_mapping`)."""
        sources = value.value if isinstance(value, SequenceNode) else [value]
        if isinstance(value, SequenceNode) and value.tag != _SEQ:
            self._tag_error(value, path, "a list")
            return
        for source in sources:
            if isinstance(source, MappingNode):
                self._check(loader, source, path, seen)
            else:
                self.errors.append(
                    TopologyError(
                        self._at(source.start_mark),
                        "the merge key '<<' needs a mapping or a list of mappings",
                        path=path,
                    )
                )

    # -- measuring ---------------------------------------------------------------------------

    def _expanded_size(self, node: Node, memo: dict[Node, int]) -> int:
        """Nodes under ``node`` with aliases expanded, each shared node computed once."""
        known = memo.get(node)
        if known is not None:
            return known
        size = 1
        if isinstance(node, SequenceNode):
            size += sum(self._expanded_size(item, memo) for item in node.value)
        elif isinstance(node, MappingNode):
            for key_node, value_node in node.value:
                size += self._expanded_size(key_node, memo) + self._expanded_size(value_node, memo)
        memo[node] = size
        return size

    # -- building data and spans (only for a checked, bounded graph) -------------------------

    def _build(
        self, loader: _Loader, node: Node, path: Path, key: Location | None, value: Location
    ) -> object:
        self.spans[path] = Span(key, value)
        if isinstance(node, ScalarNode):
            self.scalars[path] = ScalarInfo(str(node.value), node.style is None)
            return node.value if node.tag == _VALUE else loader.construct_object(node)
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
        return Location(self.source, mark.line + 1, mark.column + 1)

    def _error(self, mark: Mark, message: str, *, hint: str | None = None) -> None:
        self.errors.append(TopologyError(self._at(mark), message, hint=hint))

    def _tag_location(self, node: Node) -> Location:
        """The tag itself, also when an anchor is written before it on the same line."""
        mark = node.start_mark
        if mark.buffer is not None:
            prefix = _ANCHOR_PREFIX.match(mark.buffer, mark.pointer)
            if prefix is not None:
                return Location(self.source, mark.line + 1, mark.column + 1 + len(prefix[0]))
        return self._at(mark)

    def _location_of_index(self, index: int) -> Location:
        """Line and column of a character, counting line breaks as PyYAML does."""
        line, start = 1, 0
        for match in _LINE_BREAK.finditer(self.text, 0, index):
            line, start = line + 1, match.end()
        return Location(self.source, line, index - start + 1)
