"""Placeholders: grammar, problem messages and resolution."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mqwire.topology.errors import MqError
from mqwire.topology.placeholders import (
    Placeholder,
    PlaceholderError,
    find_placeholders,
    placeholder_problems,
    resolve,
)

# --------------------------------------------------------------------------- grammar

VALID = [
    "",
    "plain text, no dollar",
    "${AMQP_URL}",
    "${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2F}",
    "${_x1}",
    "${A:-}",
    "price: $$5",
    "$$$$",
    "$${NOT_A_PLACEHOLDER}",
    "a}b{c",
    "${A:-default with spaces, colons: and $ signs}",
    "${A:-$$}",
    "$$${A}",
    "amqp://app:${MQ_PASSWORD}@host/vhost",
]


@pytest.mark.parametrize("text", VALID)
def test_valid_text_has_no_problems(text: str) -> None:
    assert placeholder_problems(text) == []


PROBLEMS = [
    # text, the one expected message
    (
        "$AMQP_URL",
        "'$AMQP_URL' needs braces: write '${AMQP_URL}', or '$$AMQP_URL' for a literal '$'",
    ),
    (
        "x $5 y",
        "'$5' is not a placeholder: write '$$5' for a literal '$', or '${NAME}' for a variable",
    ),
    ("costs 5$", "a '$' at the end is not a placeholder: write '$$' for a literal '$'"),
    ("${AMQP_URL", "'${AMQP_URL' is not closed: write '${AMQP_URL}'"),
    ("${A:-x y", "'${A:-x y' is not closed: write '${A:-x y}'"),
    (
        "${ oops",
        "'${ oops' is not closed: end it with '}' as in '${NAME}' or '${NAME:-default}', "
        "or write '$$' for a literal '$'",
    ),
    ("${}", "'${}' has no variable name: write '${NAME}', or '$${}' for literal text"),
    ("${:-x}", "'${:-x}' has no variable name: write '${NAME:-x}'"),
    (
        "${1X}",
        "'${1X}' has an invalid variable name '1X': names use letters, digits and '_' "
        "and do not start with a digit, as in '${_1X}'",
    ),
    (
        "${MY-VAR.X}",
        "'${MY-VAR.X}' uses '-', which is not supported: write '${MY:-VAR.X}' for a default "
        "or '${MY}' for a required variable",
    ),
    (
        "${my.var}",
        "'${my.var}' has an invalid variable name 'my.var': names use letters, digits and '_' "
        "and do not start with a digit, as in '${my_var}'",
    ),
    ("${A:default}", "'${A:default}' is missing the '-' of ':-': write '${A:-default}'"),
    (
        "${A:=x}",
        "'${A:=x}' uses ':=', which is not supported: write '${A:-x}' for a default "
        "or '${A}' for a required variable",
    ),
    (
        "${A:?x}",
        "'${A:?x}' uses ':?', which is not supported: write '${A:-x}' for a default "
        "or '${A}' for a required variable",
    ),
    (
        "${A:-x${B}}",
        "'${A:-x${B}' puts a placeholder inside a default, which is not supported: "
        "write '${A}' or give it a literal default as in '${A:-value}'",
    ),
]


@pytest.mark.parametrize(("text", "message"), PROBLEMS)
def test_each_syntax_problem_has_a_fix(text: str, message: str) -> None:
    assert placeholder_problems(text) == [message]


def test_all_problems_are_reported_in_order() -> None:
    problems = placeholder_problems("$A and ${} and ${ok} and ${B")
    assert len(problems) == 3
    assert problems[0].startswith("'$A' needs braces")
    assert problems[1].startswith("'${}' has no variable name")
    assert problems[2].startswith("'${B' is not closed")


def test_unclosed_placeholder_does_not_hide_the_next_one() -> None:
    text = "${A ${B}"
    assert placeholder_problems(text) == ["'${A ' is not closed: write '${A}'"]
    assert find_placeholders(text) == (Placeholder("B", None, 4, 8),)


def test_problem_messages_do_not_quote_url_passwords() -> None:
    in_password = placeholder_problems("amqp://app:Qx7$Zk@host/")
    assert len(in_password) == 1
    assert "Qx7" not in in_password[0]
    assert "Zk" not in in_password[0]
    assert "MQ_PASSWORD" in in_password[0]

    in_default = placeholder_problems("${AMQP_URL:amqp://app:s3cret@host/}")
    assert in_default == [
        "'${AMQP_URL:amqp://app:***@host/}' is missing the '-' of ':-': "
        "write '${AMQP_URL:-amqp://app:***@host/}'"
    ]


# --------------------------------------------------------------------------- find_placeholders

FIND = [
    ("", ()),
    ("${A}", (Placeholder("A", None, 0, 4),)),
    ("x${A:-d}y", (Placeholder("A", "d", 1, 8),)),
    ("${A:-}", (Placeholder("A", "", 0, 6),)),
    ("$${A}", ()),
    ("$$${A}", (Placeholder("A", None, 2, 6),)),
    (
        "amqp://${U}:${P:-x}@h",
        (Placeholder("U", None, 7, 11), Placeholder("P", "x", 12, 19)),
    ),
    ("${A:-a:-b $c}", (Placeholder("A", "a:-b $c", 0, 13),)),
]


@pytest.mark.parametrize(("text", "expected"), FIND)
def test_find_placeholders_offsets(text: str, expected: tuple[Placeholder, ...]) -> None:
    found = find_placeholders(text)
    assert found == expected
    for p in found:
        assert text[p.start : p.end].startswith("${" + p.name)
        assert text[p.end - 1] == "}"


# --------------------------------------------------------------------------- resolve

RESOLVE = [
    # text, environ, expected
    ("${A}", {"A": "x"}, "x"),
    ("${A}", {"A": ""}, ""),  # empty counts as set for ${VAR}
    ("${A:-d}", {}, "d"),
    ("${A:-d}", {"A": ""}, "d"),  # shell :- : empty takes the default
    ("${A:-d}", {"A": "x"}, "x"),
    ("${A:-}", {}, ""),
    ("$$", {}, "$"),
    ("$$$$", {}, "$$"),
    ("$${A}", {"A": "x"}, "${A}"),
    ("$$${A}", {"A": "x"}, "$x"),
    ("${A:-$$}", {}, "$$"),  # defaults are verbatim
    ("${A}", {"A": "${B}"}, "${B}"),  # values are not expanded again
    ("amqp://app:${P}@${H:-localhost}/%2F", {"P": "s"}, "amqp://app:s@localhost/%2F"),
    ("no placeholders", {}, "no placeholders"),
]


@pytest.mark.parametrize(("text", "environ", "expected"), RESOLVE)
def test_resolve(text: str, environ: dict[str, str], expected: str) -> None:
    assert resolve(text, environ) == expected


def test_resolve_reports_every_missing_variable_at_once() -> None:
    with pytest.raises(PlaceholderError) as caught:
        resolve("${Z}/${A}/${Z}/${B:-b}/${C}", {"C": ""})
    assert caught.value.missing == ("A", "Z")
    message = str(caught.value)
    assert "'A'" in message
    assert "'Z'" in message
    assert "'B'" not in message
    assert "${VAR:-default}" in message
    assert isinstance(caught.value, MqError)


def test_resolve_names_a_single_missing_variable() -> None:
    with pytest.raises(PlaceholderError) as caught:
        resolve("${MQ_PASSWORD}", {})
    assert caught.value.missing == ("MQ_PASSWORD",)
    assert str(caught.value) == (
        "environment variable 'MQ_PASSWORD' is not set: "
        "set it or give a default as '${MQ_PASSWORD:-default}'"
    )


def test_resolve_uses_only_the_environ_passed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MQWIRE_ONLY_IN_OS_ENVIRON", "from-os")
    with pytest.raises(PlaceholderError) as caught:
        resolve("${MQWIRE_ONLY_IN_OS_ENVIRON}", {})
    assert caught.value.missing == ("MQWIRE_ONLY_IN_OS_ENVIRON",)
    assert resolve("${MQWIRE_ONLY_IN_OS_ENVIRON}", {"MQWIRE_ONLY_IN_OS_ENVIRON": "x"}) == "x"


def test_resolve_refuses_syntax_problems() -> None:
    with pytest.raises(PlaceholderError) as caught:
        resolve("$A ${B}", {})
    assert caught.value.missing == ("B",)
    assert caught.value.problems == tuple(placeholder_problems("$A ${B}"))
    assert "'$A' needs braces" in str(caught.value)


# --------------------------------------------------------------------------- properties

_SAFE = st.text(st.characters(exclude_characters="$", exclude_categories=("Cs",)), max_size=8)
_DEFAULT = st.text(
    st.characters(exclude_characters="}", exclude_categories=("Cs",)), max_size=8
).filter(lambda s: "${" not in s)
_VAR = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True)

#: One piece of text and what it resolves to with an empty environment.
_PIECE = st.one_of(
    _SAFE.map(lambda s: (s, s)),
    st.just(("$$", "$")),
    st.tuples(_VAR, _DEFAULT).map(lambda nd: (f"${{{nd[0]}:-{nd[1]}}}", nd[1])),
)


@given(st.lists(_PIECE, max_size=8))
def test_resolve_with_empty_environ_takes_every_default(pieces: list[tuple[str, str]]) -> None:
    text = "".join(written for written, _ in pieces)
    expected = "".join(value for _, value in pieces)
    assert placeholder_problems(text) == []
    assert resolve(text, {}) == expected
    defaults = [value for written, value in pieces if written.startswith("${")]
    assert [p.default for p in find_placeholders(text)] == defaults
