"""The located YAML reader: spans of keys and values, and every problem reported at its place."""

from __future__ import annotations

import datetime
import textwrap

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from mqwire.topology._yaml import (
    _MAX_DEPTH,
    MAX_ALIASES,
    MAX_BYTES,
    MAX_NODES,
    ParsedYaml,
    ScalarInfo,
    Span,
    locate,
    parse_yaml,
)
from mqwire.topology.errors import Location, TopologyError, TopologyErrors

SOURCE = "topology.yaml"


def at(line: int, column: int) -> Location:
    return Location(SOURCE, line, column)


def doc(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def problems(text: str) -> list[TopologyError]:
    with pytest.raises(TopologyErrors) as caught:
        parse_yaml(text, SOURCE)
    return list(caught.value.errors)


def only_problem(text: str) -> TopologyError:
    found = problems(text)
    assert len(found) == 1, found
    return found[0]


# -- spans -------------------------------------------------------------------------------------


def test_spans_of_a_nested_scalar_as_in_the_example() -> None:
    parsed = parse_yaml("queues:\n  cart:\n    prefetch: 10\n", SOURCE)

    assert parsed.data == {"queues": {"cart": {"prefetch": 10}}}
    assert parsed.spans[("queues", "cart", "prefetch")] == Span(at(3, 5), at(3, 15))
    assert parsed.scalars[("queues", "cart", "prefetch")] == ScalarInfo("10", True)
    assert parsed.spans[("queues", "cart")] == Span(at(2, 3), at(3, 5))
    assert parsed.spans[("queues",)] == Span(at(1, 1), at(2, 3))
    assert parsed.spans[()] == Span(None, at(1, 1))


def test_spans_of_sequence_items_have_no_key() -> None:
    text = doc(
        """
        queues:
          cart:
            bindings:
              - exchange: orders
                key: cart.*
              - plain item
        """
    )
    parsed = parse_yaml(text, SOURCE)
    bindings = ("queues", "cart", "bindings")

    assert parsed.spans[bindings] == Span(at(3, 5), at(4, 7))
    assert parsed.spans[(*bindings, 0)] == Span(None, at(4, 9))
    assert parsed.spans[(*bindings, 0, "exchange")] == Span(at(4, 9), at(4, 19))
    assert parsed.spans[(*bindings, 0, "key")] == Span(at(5, 9), at(5, 14))
    assert parsed.spans[(*bindings, 1)] == Span(None, at(6, 9))
    assert parsed.scalars[(*bindings, 1)] == ScalarInfo("plain item", True)


def test_spans_in_flow_style() -> None:
    text = doc(
        """
        queues:
          cart:
            arguments: {x-max-priority: 10, x-queue-type: "quorum"}
            tags: [a, 'b']
        """
    )
    parsed = parse_yaml(text, SOURCE)
    args = ("queues", "cart", "arguments")

    assert parsed.spans[args] == Span(at(3, 5), at(3, 16))
    assert parsed.spans[(*args, "x-max-priority")] == Span(at(3, 17), at(3, 33))
    assert parsed.spans[(*args, "x-queue-type")] == Span(at(3, 37), at(3, 51))
    assert parsed.spans[("queues", "cart", "tags", 0)] == Span(None, at(4, 12))
    assert parsed.spans[("queues", "cart", "tags", 1)] == Span(None, at(4, 15))


def test_scalars_remember_their_text_and_whether_they_were_quoted() -> None:
    text = doc(
        """
        durable: no
        name: "no"
        single: 'it''s'
        port: 5672
        empty:
        """
    )
    parsed = parse_yaml(text, SOURCE)

    assert parsed.data == {
        "durable": False,
        "name": "no",
        "single": "it's",
        "port": 5672,
        "empty": None,
    }
    assert parsed.scalars[("durable",)] == ScalarInfo("no", True)
    assert parsed.scalars[("name",)] == ScalarInfo("no", False)
    assert parsed.scalars[("single",)] == ScalarInfo("it's", False)
    assert parsed.scalars[("port",)] == ScalarInfo("5672", True)
    assert parsed.scalars[("empty",)] == ScalarInfo("", True)
    assert () not in parsed.scalars  # the root is a mapping, not a scalar


def test_an_alias_value_is_located_where_the_alias_is_written() -> None:
    text = doc(
        """
        defaults: &prefetch 10
        queues:
          cart:
            prefetch: *prefetch
          mail:
            - *prefetch
        """
    )
    parsed = parse_yaml(text, SOURCE)

    assert parsed.data == {"defaults": 10, "queues": {"cart": {"prefetch": 10}, "mail": [10]}}
    assert parsed.spans[("defaults",)] == Span(at(1, 1), at(1, 11))
    assert parsed.spans[("queues", "cart", "prefetch")] == Span(at(4, 5), at(4, 15))
    assert parsed.spans[("queues", "mail", 0)] == Span(None, at(6, 7))
    assert parsed.scalars[("queues", "cart", "prefetch")] == ScalarInfo("10", True)


def test_merged_keys_are_located_where_the_anchor_wrote_them() -> None:
    text = doc(
        """
        base: &base
          durable: true
          prefetch: 5
        queues:
          cart:
            <<: *base
            prefetch: 20
        """
    )
    parsed = parse_yaml(text, SOURCE)

    assert parsed.data == yaml.safe_load(text)
    assert parsed.data["queues"]["cart"] == {"durable": True, "prefetch": 20}  # type: ignore[index]
    assert parsed.spans[("queues", "cart", "durable")] == Span(at(2, 3), at(2, 12))
    assert parsed.spans[("queues", "cart", "prefetch")] == Span(at(7, 5), at(7, 15))
    assert ("queues", "cart", "<<") not in parsed.spans


@pytest.mark.parametrize(
    ("text", "where"), [("", at(1, 1)), ("# only a comment\n", at(1, 1)), ("---\n", at(2, 1))]
)
def test_an_empty_document_reads_as_none(text: str, where: Location) -> None:
    parsed = parse_yaml(text, SOURCE)

    assert parsed.data is None
    assert parsed.spans[()] == Span(None, where)
    assert locate(parsed, ("queues", "cart")) == where


def test_a_scalar_document_is_its_own_root() -> None:
    parsed = parse_yaml("  just text\n", SOURCE)

    assert parsed.data == "just text"
    assert parsed.spans == {(): Span(None, at(1, 3))}
    assert parsed.scalars == {(): ScalarInfo("just text", True)}


# -- locate ------------------------------------------------------------------------------------

LOCATE_TEXT = doc(
    """
    queues:
      cart:
        prefetch: 10
        tags: [a, b]
    """
)


@pytest.fixture
def located() -> ParsedYaml:
    return parse_yaml(LOCATE_TEXT, SOURCE)


def test_locate_gives_the_value_or_its_key(located: ParsedYaml) -> None:
    assert locate(located, ["queues", "cart", "prefetch"]) == at(3, 15)
    assert locate(located, ("queues", "cart", "prefetch"), key=True) == at(3, 5)


def test_locate_falls_back_to_the_value_for_items_without_a_key(located: ParsedYaml) -> None:
    assert locate(located, ("queues", "cart", "tags", 1), key=True) == at(4, 15)
    assert locate(located, (), key=True) == at(1, 1)


def test_locate_walks_up_to_the_nearest_known_ancestor(located: ParsedYaml) -> None:
    assert locate(located, ("queues", "cart", "url")) == at(3, 5)
    assert locate(located, ("queues", "cart", "url"), key=True) == at(2, 3)
    assert locate(located, ("queues", "cart", "tags", 7, "x")) == at(4, 11)
    assert locate(located, ("exchanges", "orders")) == at(1, 1)


def test_locate_without_any_span_says_so() -> None:
    with pytest.raises(LookupError):
        locate(ParsedYaml(None, {}, {}), ("queues",))


# -- equality with yaml.safe_load --------------------------------------------------------------

VALID_DOCUMENTS = [
    doc(
        """
        version: 1
        connections:
          main:
            url: amqp://${USER}:${PASSWORD}@rabbit:5672/%2F
            heartbeat: 30
        defaults: &queue_defaults
          durable: true
          prefetch: 1
          arguments: {x-queue-type: quorum}
        queues:
          cart:
            <<: *queue_defaults
            prefetch: 10
            routes: [cart.*, "order.#", 'user.created']
          mail:
            <<: [*queue_defaults, {dead_letter: mail.dlq}]
          mail.dlq: {durable: no, auto_delete: off}
        """
    ),
    doc(
        """
        matrix:
          - [1, 2.5, -3, 0x10, 0o17, 1_000]
          - - nested
            - - deeper
              - ~
              - null
          - {a: [], b: {}, c: ""}
        text: |
          line one
          line two
        folded: >
          folded
          text
        when: 2024-01-31
        at: 2024-01-31 12:30:00
        sexagesimal: 12:30
        quoted: "yes"
        plain: yes
        equals: "="
        """
    ),
    doc(
        """
        ---
        - &first {name: a, size: 1}
        - *first
        - <<: *first
          size: 2
        - !!str 123
        - !!int "7"
        - ? key
          : value
        ...
        """
    ),
]


@pytest.mark.parametrize("text", VALID_DOCUMENTS)
def test_data_equals_safe_load(text: str) -> None:
    parsed = parse_yaml(text, SOURCE)

    assert parsed.data == yaml.safe_load(text)


def test_dates_and_sexagesimal_numbers_are_typed_as_safe_load_does() -> None:
    parsed = parse_yaml(VALID_DOCUMENTS[1], SOURCE)

    assert parsed.data["when"] == datetime.date(2024, 1, 31)  # type: ignore[index]
    assert parsed.data["sexagesimal"] == 750  # type: ignore[index]


_KEYS = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)  # refused: see test_error_corpus
    | st.text(st.characters(codec="utf-8"), max_size=20)
    | st.sampled_from(["no", "on", "12:30", "2024-01-31", "~", "0x1F", "1e3", "<<", "="])
)
_DATA = st.recursive(
    _LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=20,
)


def _paths(value: object, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*path, index))
    return found


@settings(max_examples=150, deadline=None)
@given(data=_DATA, flow=st.sampled_from([None, True, False]))
def test_dumped_documents_read_like_safe_load_with_a_span_for_every_path(
    data: object, flow: bool | None
) -> None:
    text = yaml.safe_dump(data, default_flow_style=flow, sort_keys=False, allow_unicode=True)
    parsed = parse_yaml(text, SOURCE)

    assert parsed.data == yaml.safe_load(text)
    lines = text.splitlines()
    for path in _paths(parsed.data):
        span = parsed.spans[path]
        if path and isinstance(path[-1], str):
            assert span.key is not None
            written = lines[span.key.line - 1][span.key.column - 1 :]
            assert written.startswith((path[-1][:1], '"', "'", "?")), (path, written)
        else:
            assert span.key is None


# -- problems ----------------------------------------------------------------------------------


def test_text_over_the_size_limit_is_refused_counting_utf8_bytes() -> None:
    parse_yaml("#" * MAX_BYTES, SOURCE)  # exactly at the limit is fine

    found = only_problem("#" + "é" * (MAX_BYTES // 2))  # fewer characters, more bytes

    assert found.location == at(1, 1)
    assert str(MAX_BYTES) in found.message


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        ("queues:\n  cart: 1\n   mail: 2\n", at(3, 8), "mapping values are not allowed here"),
        ("a: [1, 2\nb: 3\n", at(2, 2), "expected ',' or ']'"),
        ("a: 'open\n", at(2, 1), "found unexpected end of stream"),
        ("a: *missing\n", at(1, 4), "undefined alias 'missing'"),
        ("a: &x 1\nb: &x 2\n", at(2, 4), "duplicate anchor 'x'"),
        ("a: 1\nb: \x07\n", at(2, 4), "unacceptable character #x0007"),
    ],
)
def test_syntax_errors_are_located(text: str, where: Location, words: str) -> None:
    found = only_problem(text)

    assert found.location == where
    assert words in found.message


def test_a_syntax_error_names_what_was_being_parsed() -> None:
    found = only_problem("a: [1, 2\nb: 3\n")

    assert "while parsing a flow sequence" in found.message
    assert found.related == (at(1, 4),)


def test_duplicate_keys_point_at_the_second_and_name_the_first() -> None:
    text = doc(
        """
        queues:
          cart:
            prefetch: 1
            durable: true
            prefetch: 2
          mail: {a: 1, a: 2}
        """
    )
    first, second = problems(text)

    assert first.location == at(5, 5)
    assert first.message == "duplicate key 'prefetch'"
    assert first.related == (at(3, 5),)
    assert first.path == ("queues", "cart", "prefetch")
    assert second.location == at(6, 16)
    assert second.related == (at(6, 10),)


def test_keys_overridden_after_a_merge_are_not_duplicates() -> None:
    text = "base: &b {x: 1}\nq:\n  <<: *b\n  x: 2\n"

    assert parse_yaml(text, SOURCE).data == {"base": {"x": 1}, "q": {"x": 2}}


def test_a_repeated_merge_key_is_a_duplicate() -> None:
    text = "a: &a {x: 1}\nb: &b {y: 1}\nq:\n  <<: *a\n  <<: *b\n"
    found = only_problem(text)

    assert found.location == at(5, 3)
    assert found.message == "duplicate key '<<'"
    assert found.hint is not None and "[*a, *b]" in found.hint


def test_non_string_keys_show_the_original_text_and_how_to_quote_it() -> None:
    text = doc(
        """
        on: push
        queues:
          yes: 1
          12:30: 2
          1: 3
          ? [a, b]
          : 4
        """
    )
    found = problems(text)

    assert [p.location for p in found] == [at(1, 1), at(3, 3), at(4, 3), at(5, 3), at(6, 5)]
    on = found[0]
    assert "'on'" in on.message and "must be strings" in on.message and "boolean" in on.message
    assert on.hint is not None and '"on":' in on.hint
    assert "'12:30'" in found[2].message and "750" in found[2].message
    assert "integer" in found[3].message
    assert found[4].message == "mapping keys must be strings, not a list"
    assert found[1].path == ("queues",)


@pytest.mark.parametrize(
    ("text", "where", "shown"),
    [
        ("a: !!python/object:os.system x\n", at(1, 4), "'!!python/object:os.system'"),
        ("a:\n  b: !custom {c: 1}\n", at(2, 6), "'!custom'"),
        ("a: &anchor !custom x\n", at(1, 12), "'!custom'"),
        ("a: !!set {x, y}\n", at(1, 4), "'!!set'"),
        ("- !!binary aGVsbG8=\n", at(1, 3), "'!!binary'"),
        ("a: !!str [1]\n", at(1, 4), "'!!str' cannot be used on a list"),
    ],
)
def test_tags_other_than_the_core_ones_are_refused_at_the_tag(
    text: str, where: Location, shown: str
) -> None:
    found = only_problem(text)

    assert found.location == where
    assert shown in found.message
    assert found.hint == "remove the tag"


def test_more_than_one_document_is_refused_at_the_second() -> None:
    found = only_problem("---\na: 1\n---\nb: 2\n---\nc: 3\n")

    assert found.location == at(3, 1)
    assert "one YAML document" in found.message


def test_aliases_beyond_the_limit_are_refused_at_the_first_extra_one() -> None:
    def with_aliases(count: int) -> str:
        return "a: &a 1\nb: [" + ", ".join(["*a"] * count) + "]\n"

    assert parse_yaml(with_aliases(MAX_ALIASES), SOURCE).data["b"] == [1] * MAX_ALIASES  # type: ignore[index]
    found = only_problem(with_aliases(MAX_ALIASES + 1))

    assert found.location == at(2, 5 + 4 * MAX_ALIASES)
    assert str(MAX_ALIASES) in found.message


def test_the_node_limit_counts_expanded_aliases() -> None:
    # One anchored list of 1009 items (1010 nodes), repeated 99 times, inside a root list.
    def document(extra: int) -> str:
        items = ", ".join(["0"] * 1009)
        return f"[&a [{items}]" + ", *a" * 98 + ", 1" * extra + "]\n"

    assert len(parse_yaml(document(9), SOURCE).spans) == MAX_NODES  # 1 + 99 * 1010 + 9
    found = only_problem(document(10))

    assert found.location == at(1, 1)
    assert str(MAX_NODES) in found.message


def test_a_huge_document_is_refused_at_the_node_beyond_the_limit_while_it_is_read() -> None:
    """The count stops reading at the first extra node, not after building all of them."""
    text = "[" + ",".join(["a"] * (MAX_BYTES // 2 - 2)) + "]\n"  # ~1 MiB, five times the limit

    found = only_problem(text)

    # The root is node 1; item k stands at column 2k: the extra node is item MAX_NODES.
    assert found.location == at(1, 2 * MAX_NODES)
    assert f"more than {MAX_NODES} nodes" in found.message


def test_a_billion_laughs_is_refused() -> None:
    lines = ['lol0: &lol0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 10):
        aliases = ", ".join([f"*lol{level - 1}"] * 9)
        lines.append(f"lol{level}: &lol{level} [{aliases}]")

    found = problems("\n".join(lines) + "\n")

    assert [p.location for p in found] == [at(1, 1)]
    assert str(MAX_NODES) in found[0].message


def test_a_recursive_alias_is_refused() -> None:
    found = only_problem("a: &x\n  b: *x\n")

    assert found.location == at(2, 6)
    assert "'*x'" in found.message


def test_nesting_deeper_than_the_limit_is_refused() -> None:
    parse_yaml("[" * _MAX_DEPTH + "]" * _MAX_DEPTH, SOURCE)

    found = only_problem("[" * (_MAX_DEPTH + 1) + "]" * (_MAX_DEPTH + 1))

    assert found.location == at(1, _MAX_DEPTH + 1)
    assert "nested too deeply" in found.message


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        ("a: !!int twelve\n", at(1, 4), "cannot read 'twelve' as an integer"),
        ("a: !!int \n", at(1, 4), "cannot read '' as an integer"),  # PyYAML: IndexError
        ("!!float ", at(1, 1), "cannot read '' as a number"),
        ("a:\n  - 2024-02-30\n", at(2, 5), "cannot read '2024-02-30' as a date"),
        ("a: <<\n", at(1, 4), "merge key '<<' can only be used as a mapping key"),
        ("a:\n  <<: [1]\n", at(2, 8), "merge key '<<' needs a mapping or a list of mappings"),
    ],
)
def test_values_safe_load_cannot_read_are_located(text: str, where: Location, words: str) -> None:
    found = only_problem(text)

    assert found.location == where
    assert words in found.message


def test_a_plain_equals_sign_reads_as_text() -> None:
    # safe_load fails on a plain '=' value (YAML 1.1's "value" type); it is just text here.
    assert parse_yaml("a: =\n=: b\n", SOURCE).data == {"a": "=", "=": "b"}


def test_every_problem_in_a_file_is_reported_in_order() -> None:
    text = doc(
        """
        queues:
          cart:
            prefetch: 1
            prefetch: 2
          mail: !custom x
        on: 1
        other: !!float fast
        """
    )
    found = problems(text)

    assert [p.location for p in found] == [at(4, 5), at(5, 9), at(6, 1), at(7, 8)]
    assert found[0].message == "duplicate key 'prefetch'"
    assert found[1].message.startswith("unsupported tag '!custom'")
    assert found[2].message.startswith("mapping keys must be strings, but 'on'")
    assert found[3].message == "cannot read 'fast' as a number"
    assert str(found[0]).startswith("topology.yaml:4:5: error: duplicate key 'prefetch'")
