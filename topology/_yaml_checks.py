"""Checks on a composed YAML node graph: refuse what ``safe_load`` accepts but a topology must not.

PyYAML silently keeps the last of duplicate keys, accepts non-string keys and exotic tags, and
expands aliases without bound. These checks run on the composed nodes of :mod:`._yaml` before
any value is built, so a bad file is reported, every problem at its place, instead of read.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence

import yaml
from yaml.error import Mark
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import Location, PathPart, TopologyError

#: At most this many aliases (``*name``) per file.
MAX_ALIASES = 100
#: At most this many nodes once every alias is expanded ("billion laughs" protection).
MAX_NODES = 100_000

TAG_PREFIX = "tag:yaml.org,2002:"
STR_TAG, SEQ_TAG, MAP_TAG = TAG_PREFIX + "str", TAG_PREFIX + "seq", TAG_PREFIX + "map"
MERGE_TAG, VALUE_TAG = TAG_PREFIX + "merge", TAG_PREFIX + "value"
#: Tags a scalar may carry (implicitly resolved or written): YAML 1.1 as ``safe_load`` types it.
_SCALAR_TAGS = {TAG_PREFIX + t for t in ("str", "int", "float", "bool", "null", "timestamp")}
_KIND_NAMES = {
    TAG_PREFIX + "int": "an integer",
    TAG_PREFIX + "float": "a number",
    TAG_PREFIX + "bool": "a boolean",
    TAG_PREFIX + "null": "null",
    TAG_PREFIX + "timestamp": "a date",
}
#: What constructing a scalar of a known tag raises when its text does not fit the tag.
_UNREADABLE = (
    yaml.YAMLError,
    ValueError,
    TypeError,
    KeyError,
    AttributeError,
    OverflowError,
    IndexError,
)
#: A UTF-16 surrogate code point: YAML's "\\ud800" escape makes one, and UTF-8 refuses it.
_SURROGATE = re.compile("[\\ud800-\\udfff]")
#: An anchor written before a tag on the same line (``&name !tag``).
_ANCHOR_PREFIX = re.compile(r"&[^\s,\[\]{}]+[ \t]+(?=!)")

Path = tuple[PathPart, ...]


def mark_location(source: str, mark: Mark) -> Location:
    """A PyYAML mark (0-based) as a 1-based location in ``source``."""
    return Location(source, mark.line + 1, mark.column + 1)


def graph_errors(
    source: str,
    constructor: yaml.SafeLoader,
    root: Node | None,
    aliases: Sequence[Mark],
    recursive_aliases: Sequence[tuple[str, Mark]],
) -> list[TopologyError]:
    """Every problem of a composed document: aliases, tags, keys, duplicates and size.

    ``aliases`` holds every alias in document order, ``recursive_aliases`` the ``(anchor,
    mark)`` of those inside the node they refer to; ``root`` is None when composing failed.
    """
    checker = _GraphChecker(source, constructor)
    if len(aliases) > MAX_ALIASES:
        checker.error(
            aliases[MAX_ALIASES], f"too many aliases: the limit is {MAX_ALIASES} per file"
        )
    for anchor, mark in recursive_aliases:
        checker.error(
            mark,
            f"alias '*{anchor}' refers to a node that contains it",
            hint="recursive structures are not allowed",
        )
    if root is not None:
        checker.check(root, (), set())
        if not recursive_aliases and _expanded_size(root, {}) > MAX_NODES:
            checker.error(
                Location(source, 1, 1),
                f"document too large: more than {MAX_NODES} nodes once aliases are expanded",
            )
    return checker.errors


def _expanded_size(node: Node, memo: dict[Node, int]) -> int:
    """Nodes under ``node`` with aliases expanded, each shared node computed once."""
    known = memo.get(node)
    if known is not None:
        return known
    size = 1
    if isinstance(node, SequenceNode):
        size += sum(_expanded_size(item, memo) for item in node.value)
    elif isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            size += _expanded_size(key_node, memo) + _expanded_size(value_node, memo)
    memo[node] = size
    return size


class _GraphChecker:
    """Walks the node graph once (an aliased node is checked at its first place only)."""

    def __init__(self, source: str, constructor: yaml.SafeLoader) -> None:
        self.source = source
        self.constructor = constructor
        self.errors: list[TopologyError] = []

    def error(
        self,
        where: Mark | Location,
        message: str,
        *,
        path: Path | None = None,
        hint: str | None = None,
        related: tuple[Location, ...] = (),
    ) -> None:
        at = where if isinstance(where, Location) else mark_location(self.source, where)
        self.errors.append(TopologyError(at, message, path=path, hint=hint, related=related))

    def check(self, node: Node, path: Path, seen: set[Node]) -> None:
        """Report bad tags, bad keys and unreadable scalars; an aliased node is checked once."""
        if node in seen:
            return
        seen.add(node)
        if isinstance(node, ScalarNode):
            self._check_scalar(node, path)
        elif isinstance(node, SequenceNode):
            if self._check_tag(node, path, SEQ_TAG, "a list"):
                for index, item in enumerate(node.value):
                    self.check(item, (*path, index), seen)
        elif isinstance(node, MappingNode) and self._check_tag(node, path, MAP_TAG, "a mapping"):
            self._check_mapping(node, path, seen)

    def _check_tag(self, node: Node, path: Path, expected: str, kind: str) -> bool:
        if node.tag == expected:
            return True
        self._tag_error(node, path, kind)
        return False

    def _tag_error(self, node: Node, path: Path, kind: str) -> None:
        tag = node.tag[len(TAG_PREFIX) :] if node.tag.startswith(TAG_PREFIX) else None
        shown = f"!!{tag}" if tag is not None else node.tag
        if node.tag == MERGE_TAG:
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
        self.error(self._tag_location(node), message, path=path, hint=hint)

    def _tag_location(self, node: Node) -> Location:
        """The tag itself, also when an anchor is written before it on the same line."""
        mark = node.start_mark
        if mark.buffer is not None:
            prefix = _ANCHOR_PREFIX.match(mark.buffer, mark.pointer)
            if prefix is not None:
                return Location(self.source, mark.line + 1, mark.column + 1 + len(prefix[0]))
        return mark_location(self.source, mark)

    def _check_scalar(self, node: ScalarNode, path: Path) -> None:
        if node.tag in (STR_TAG, VALUE_TAG):
            self._check_text(node, path)
            return
        if node.tag not in _SCALAR_TAGS:
            self._tag_error(node, path, "a scalar")
            return
        try:
            value = self.constructor.construct_object(node)
        except _UNREADABLE:
            kind = _KIND_NAMES.get(node.tag, node.tag)
            self.error(
                node.start_mark,
                f"cannot read {node.value!r} as {kind}",
                path=path,
                hint="quote it if it is meant as text",
            )
            return
        if isinstance(value, float) and not math.isfinite(value):
            self.error(
                node.start_mark,
                f"{node.value!r} is not a finite number: durations, limits and counts must be",
                path=path,
                hint="write a number of seconds such as 30 or 2.5",
            )

    def _check_text(self, node: ScalarNode, path: Path) -> str | None:
        """The text, or None after reporting a lone surrogate (no UTF-8 can carry it)."""
        text = str(node.value)
        found = _SURROGATE.search(text)
        if found is None:
            return text
        self.error(
            node.start_mark,
            f"text holds the lone surrogate \\u{ord(found[0]):04x}, which UTF-8 cannot encode",
            path=path,
            hint="write the character itself, or the escape of a whole code point (\\U0001F600)",
        )
        return None

    def _check_mapping(self, node: MappingNode, path: Path, seen: set[Node]) -> None:
        first: dict[str, Node] = {}
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG and isinstance(key_node, ScalarNode):
                self._check_merge(value_node, path, seen)
                key = "<<"
                hint = "merge several mappings with one key: '<<: [*a, *b]'"
            else:
                key_text = self._check_key(key_node, path)
                if key_text is None:
                    continue
                key = key_text
                hint = "YAML keeps only the last one; remove or rename one of them"
                self.check(value_node, (*path, key), seen)
            if key in first:
                self.error(
                    key_node.start_mark,
                    f"duplicate key {key!r}",
                    path=(*path, key) if key_node.tag != MERGE_TAG else path,
                    hint=hint,
                    related=(mark_location(self.source, first[key].start_mark),),
                )
            else:
                first[key] = key_node

    def _check_key(self, node: Node, path: Path) -> str | None:
        """The key's string, or None after reporting why it is not one."""
        if isinstance(node, ScalarNode) and node.tag in (STR_TAG, VALUE_TAG):
            return self._check_text(node, path)
        if not isinstance(node, ScalarNode):
            kind = "a list" if isinstance(node, SequenceNode) else "a mapping"
            self.error(node.start_mark, f"mapping keys must be strings, not {kind}", path=path)
            return None
        if node.tag not in _SCALAR_TAGS:
            self._tag_error(node, path, "a mapping key")
            return None
        text = str(node.value)
        if not text:
            message = "mapping keys must be strings, but this key is empty (read as null)"
            self.error(node.start_mark, message, path=path)
            return None
        message = f"mapping keys must be strings, but {text!r} is read as {_KIND_NAMES[node.tag]}"
        try:
            value = self.constructor.construct_object(node)
        except _UNREADABLE:
            pass
        else:
            if value is not None and str(value) != text:
                message += f" ({value})"
        hint = f"quote the key to keep it as text: {json.dumps(text, ensure_ascii=False)}:"
        self.error(node.start_mark, message, path=path, hint=hint)
        return None

    def _check_merge(self, value: Node, path: Path, seen: set[Node]) -> None:
        """``<<`` takes a mapping or a list of mappings (as `SafeConstructor.flatten_mapping`)."""
        sources = value.value if isinstance(value, SequenceNode) else [value]
        if isinstance(value, SequenceNode) and value.tag != SEQ_TAG:
            self._tag_error(value, path, "a list")
            return
        for source in sources:
            if isinstance(source, MappingNode):
                self.check(source, path, seen)
            else:
                self.error(
                    source.start_mark,
                    "the merge key '<<' needs a mapping or a list of mappings",
                    path=path,
                )
