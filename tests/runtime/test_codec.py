"""Message bodies to bytes and back: JSON, form fields and raw bytes, and what is refused."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mqwire.runtime.codec import ANY, DecodedBody, decode_body, encode_body
from mqwire.runtime.errors import DecodeError, EncodeError

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
DEEP = b"[" * 100_000 + b"]" * 100_000


# -- encode_body ---------------------------------------------------------------------------


@pytest.mark.parametrize("body", [{"id": 7, "name": "Grüße"}, [1, "two", None]])
def test_dict_and_list_bodies_become_compact_utf8_json_with_its_content_type(body: Any) -> None:
    data, props = encode_body(body)

    assert json.loads(data.decode("utf-8")) == body
    assert b" " not in data  # compact separators
    assert props == {"content_type": JSON}


def test_non_ascii_text_is_sent_as_utf8_not_escaped() -> None:
    data, _ = encode_body({"name": "Grüße"})

    assert data == '{"name":"Grüße"}'.encode()


def test_properties_are_copied_and_completed_never_changed() -> None:
    given = {"priority": 3, "headers": {"tenant": "t1"}}

    _, props = encode_body({"a": 1}, given)

    assert props == {"priority": 3, "headers": {"tenant": "t1"}, "content_type": JSON}
    assert given == {"priority": 3, "headers": {"tenant": "t1"}}


@pytest.mark.parametrize("content_type", [JSON, "application/vnd.shop+json; charset=utf-8"])
def test_a_json_content_type_given_by_the_caller_is_kept(content_type: str) -> None:
    data, props = encode_body([1], {"content_type": content_type})

    assert data == b"[1]" and props["content_type"] == content_type


def test_a_content_type_of_none_counts_as_unset() -> None:
    # pika's BasicProperties use None for "not set"; this used to crash with AttributeError.
    data, props = encode_body({"a": 1}, {"content_type": None})

    assert data == b'{"a":1}' and props["content_type"] == JSON


def test_a_dict_body_with_a_non_json_content_type_is_refused() -> None:
    with pytest.raises(EncodeError, match=r"a dict body is sent as JSON, not 'text/plain'"):
        encode_body({"a": 1}, {"content_type": "text/plain"})


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("id=3&name=a+b", b"id=3&name=a+b"),
        ("Grüße", "Grüße".encode()),
        (b"\x00\xff", b"\x00\xff"),
        (bytearray(b"raw"), b"raw"),
        (memoryview(b"view"), b"view"),
    ],
)
def test_str_and_bytes_bodies_are_sent_as_they_are_without_a_content_type(
    body: Any, expected: bytes
) -> None:
    data, props = encode_body(body, {"priority": 1})

    assert data == expected and type(data) is bytes
    assert props == {"priority": 1}


def _circular() -> dict[str, Any]:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    return loop


def _deep_list(depth: int) -> list[Any]:
    root: list[Any] = []
    current = root
    for _ in range(depth):
        current.append([])
        current = current[0]
    return root


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"tags": {"a", "b"}}, "not JSON-serialisable: Object of type set"),
        ({"ratio": float("nan")}, "not JSON-serialisable: Out of range float"),
        ([float("inf")], "not JSON-serialisable: Out of range float"),
        ({("a", "b"): 1}, "not JSON-serialisable: keys must be"),
        (_circular(), "not JSON-serialisable: Circular reference"),
        (_deep_list(100_000), "not JSON-serialisable: maximum recursion depth"),
    ],
)
def test_bodies_json_cannot_express_are_refused(body: Any, fragment: str) -> None:
    with pytest.raises(EncodeError, match=fragment):
        encode_body(body)


@pytest.mark.parametrize("body", [{"a", "b"}, None, 3, 1.5, True, ("a",)])
def test_bodies_of_other_types_are_refused_naming_the_type(body: Any) -> None:
    with pytest.raises(EncodeError, match=f"not {type(body).__name__}$"):
        encode_body(body)


# -- decode_body ---------------------------------------------------------------------------


def test_a_json_object_is_both_json_and_params() -> None:
    decoded = decode_body('{"id": 7, "name": "Grüße"}'.encode(), JSON)

    assert decoded == DecodedBody({"id": 7, "name": "Grüße"}, {"id": 7, "name": "Grüße"})


@pytest.mark.parametrize(
    ("body", "value"), [(b"[1, 2]", [1, 2]), (b'"text"', "text"), (b"3", 3), (b"null", None)]
)
def test_json_that_is_no_object_sets_json_and_leaves_params_empty(body: bytes, value: Any) -> None:
    decoded = decode_body(body, JSON)

    assert decoded.json == value and decoded.params == {}


@pytest.mark.parametrize(
    "content_type", ["APPLICATION/JSON", "application/json; charset=utf-8", "text/x+json"]
)
def test_json_content_types_are_recognised_by_media_type(content_type: str) -> None:
    assert decode_body(b'{"a": 1}', content_type).params == {"a": 1}


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"\xff{}", "codec can't decode byte 0xff"),
        (b"{bad", "Expecting property name"),
        (b"", "Expecting value"),
        (b"\xef\xbb\xbf{}", "Unexpected UTF-8 BOM"),
        (DEEP, "maximum recursion depth"),  # a RecursionError, turned into a DecodeError
        (b"1" * 5000, "Exceeds the limit"),
        (b'{"ratio": NaN}', "NaN is not valid JSON"),
        (b"[-Infinity]", "-Infinity is not valid JSON"),
    ],
)
def test_a_body_that_is_not_json_under_a_json_content_type_is_a_decode_error(
    body: bytes, fragment: str
) -> None:
    with pytest.raises(DecodeError, match=f"^body is not valid JSON: .*{fragment}"):
        decode_body(body, JSON)


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=8,
)  # fmt: skip
_WHITESPACE = st.text(alphabet=" \t\n\r", max_size=3)


@given(_JSON_VALUES, _WHITESPACE, _WHITESPACE, st.sampled_from(["", "x", "1", "{}", ",", "]"]))
def test_json_bodies_decode_exactly_as_json_loads_would(
    value: Any, before: str, after: str, extra: str
) -> None:
    # decode_body takes a shortcut for the usual body (no surrounding whitespace): it must
    # accept and refuse exactly what the standard decoder does.
    text = before + json.dumps(value) + after + extra
    try:
        expected = json.loads(text)
    except ValueError:
        with pytest.raises(DecodeError):
            decode_body(text.encode(), JSON)
    else:
        assert decode_body(text.encode(), JSON).json == expected


def test_a_long_json_error_is_cut_to_a_readable_length() -> None:
    with pytest.raises(DecodeError) as raised:
        decode_body(DEEP, JSON)

    assert len(str(raised.value)) <= len("body is not valid JSON: ") + 200


def test_form_fields_become_params_and_repeated_fields_a_list() -> None:
    decoded = decode_body(b"id=3&name=a+b%21&tag=x&tag=y&empty=", FORM)

    assert decoded.json is None
    assert decoded.params == {"id": "3", "name": "a b!", "tag": ["x", "y"], "empty": ""}


def test_form_content_type_parameters_and_case_are_ignored() -> None:
    decoded = decode_body(b"city=K%C3%B6ln", "Application/X-WWW-Form-Urlencoded; q=1")

    assert decoded.params == {"city": "Köln"}


def test_an_empty_form_body_has_no_params() -> None:
    assert decode_body(b"", FORM) == DecodedBody(None, {}, form=True)


@pytest.mark.parametrize(
    ("body", "fragment"), [(b"a=1&lonely", "bad query field"), (b"a=\xff", "can't decode")]
)
def test_a_malformed_form_body_is_a_decode_error(body: bytes, fragment: str) -> None:
    with pytest.raises(DecodeError, match=f"not valid {FORM}: .*{fragment}"):
        decode_body(body, FORM)


@pytest.mark.parametrize(
    ("body", "value"), [(b'{"a": 1}', {"a": 1}), (b"[1]", [1]), (b"null", None)]
)
def test_without_content_type_a_body_that_parses_is_read_as_json(body: bytes, value: Any) -> None:
    assert decode_body(body, None).json == value
    assert decode_body(body, "").json == value


@pytest.mark.parametrize("body", [b"plain text", b"\xff\xfe", b"{bad", DEEP])
def test_without_content_type_anything_else_is_refused_unless_the_queue_takes_any(
    body: bytes,
) -> None:
    with pytest.raises(DecodeError, match="body is not valid JSON"):
        decode_body(body, None)
    assert decode_body(body, None, frozenset({ANY})) == DecodedBody()


@pytest.mark.parametrize("content_type", ["text/plain", "application/octet-stream", "image/png"])
def test_other_content_types_are_refused_unless_the_queue_accepts_them(content_type: str) -> None:
    with pytest.raises(DecodeError, match=f"content type '{content_type}' is not one this queue"):
        decode_body(b'{"a": 1}', content_type)
    for accept in ({content_type}, {ANY}):  # accepted: the task gets the bytes, undecoded
        assert decode_body(b'{"a": 1}', content_type, frozenset(accept)) == DecodedBody()
        assert decode_body(b"a=1", f"{content_type}; q=1", frozenset(accept)) == DecodedBody()


@pytest.mark.parametrize(
    ("body", "content_type", "value"),
    [
        ('{"name": "Zoë"}'.encode("latin-1"), "application/json; charset=ISO-8859-1", "Zoë"),
        ('{"name": "Zoë"}'.encode("utf-16"), 'application/json;charset="utf-16"', "Zoë"),
        (b"name=Zo%C3%AB", "application/x-www-form-urlencoded; charset=utf-8", "Zoë"),
        ("name=Zoë".encode("cp1252"), "application/x-www-form-urlencoded; charset=cp1252", "Zoë"),
    ],
)
def test_the_declared_charset_is_honoured(body: bytes, content_type: str, value: str) -> None:
    assert decode_body(body, content_type).params["name"] == value


def test_an_unknown_or_wrong_charset_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="unknown encoding: klingon"):
        decode_body(b"{}", "application/json; charset=klingon")
    with pytest.raises(DecodeError, match="'ascii' codec can't decode"):
        decode_body('{"a": "é"}'.encode(), "application/json; charset=us-ascii")


@pytest.mark.parametrize(
    "text", ['{"id": 1, "id": 2}', '[{"a": {"b": 1, "b": 1}}]', '{"x": [], "y": 0, "x": []}']
)
def test_a_key_twice_in_one_object_is_refused(text: str) -> None:
    """json.loads keeps the last value: a sender and a reader could disagree on the body."""
    with pytest.raises(DecodeError, match="appears twice in one object"):
        decode_body(text.encode(), "application/json")


@pytest.mark.parametrize("text", ['"\\ud800"', '{"\\uDC00x": 1}', '["ok", "a\\udfffb"]'])
def test_an_escaped_lone_surrogate_is_refused(text: str) -> None:
    with pytest.raises(DecodeError, match="lone surrogate"):
        decode_body(text.encode(), "application/json")


def test_an_escaped_surrogate_pair_is_one_character() -> None:
    assert decode_body(b'{"smile": "\\ud83d\\ude00"}', "application/json").json == {
        "smile": "\U0001f600"
    }


@pytest.mark.parametrize("body", [{"id": 7, "tags": ["a", "b"]}, [1, {"x": None}]])
def test_what_is_encoded_decodes_to_the_same_value(body: Any) -> None:
    data, props = encode_body(body)

    assert decode_body(data, props["content_type"]).json == body
