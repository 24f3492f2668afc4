"""Message bodies to bytes and back: one path for the AMQP and the local transport alike."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple
from urllib.parse import parse_qs

from .errors import DecodeError, EncodeError

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def encode_body(
    body: Any, properties: Mapping[str, Any] | None = None
) -> tuple[bytes, dict[str, Any]]:
    """Serialise ``body``; a dict or list becomes JSON and sets the content type.

    Returns the bytes and a copy of ``properties`` completed with ``content_type``.

    Raises:
        EncodeError: the body is not JSON-serialisable, or not dict, list, str or bytes.
    """
    props = dict(properties or {})
    if isinstance(body, (dict, list)):
        if props.get("content_type") is None:  # None is pika's "not set"
            props["content_type"] = JSON
        content_type = props["content_type"]
        if not _is_json(content_type):
            raise EncodeError(f"a {type(body).__name__} body is sent as JSON, not {content_type!r}")
        try:
            text = _ENCODER.encode(body)
        except (TypeError, ValueError, RecursionError) as exc:
            raise EncodeError(f"body is not JSON-serialisable: {exc}") from exc
        return text.encode("utf-8"), props
    if isinstance(body, str):
        return body.encode("utf-8"), props
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body), props
    raise EncodeError(f"body must be a dict, list, str or bytes, not {type(body).__name__}")


class DecodedBody(NamedTuple):
    """A body as a task sees it: ``json`` (any JSON value) and ``params`` (a dict, maybe empty).

    A named tuple (one per message, built before the task starts): immutable and cheap.
    """

    json: Any = None
    params: Mapping[str, Any] = MappingProxyType({})
    #: a form-urlencoded body: its fields (``params``) are what a queue's schema checks
    form: bool = False

    @property
    def checked(self) -> Any:
        """What a queue's ``schema:`` validates: the JSON value, or a form body's fields."""
        return dict(self.params) if self.form else self.json


#: ``accept`` entry that lets a queue's task take any body, undecoded.
ANY = "*/*"


class MediaType(NamedTuple):
    """A content type's media type (lower case) and declared charset, if any."""

    media: str
    charset: str | None


@functools.lru_cache(maxsize=64)  # a queue sees few content types; bounded against floods
def media_type(content_type: str) -> MediaType:
    media, _, rest = content_type.partition(";")
    charset = None
    for param in rest.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower() or None
    return MediaType(media.strip().lower(), charset)


def decode_body(
    body: bytes, content_type: str | None, accept: frozenset[str] = frozenset()
) -> DecodedBody:
    """Decode by content type: JSON, form-urlencoded (as the old system did), or raw bytes.

    JSON and form bodies are decoded with their declared charset (UTF-8 when none is given);
    a body without content type is read as JSON. Any other body reaches a task undecoded only
    when its media type (or ``*/*``) is in ``accept``, the queue's list.

    Raises:
        DecodeError: the body does not match its declared content type, or its content type
            is not one the queue accepts.
    """
    if not content_type:
        try:
            return _json(body, None)
        except DecodeError:
            if ANY in accept:
                return DecodedBody()
            raise
    media, charset = media_type(content_type)
    if _json_media(media):
        return _json(body, charset)
    if media == FORM:
        try:
            text = _text(body, charset)
            pairs = parse_qs(text, keep_blank_values=True, strict_parsing=bool(body))
        except (UnicodeDecodeError, LookupError, ValueError) as exc:
            raise DecodeError(f"body is not valid {FORM}: {exc}") from exc
        return DecodedBody(None, {k: v[0] if len(v) == 1 else v for k, v in pairs.items()}, True)
    if media in accept or ANY in accept:
        return DecodedBody()
    raise DecodeError(
        f"content type {media!r} is not one this queue accepts: JSON and form bodies are "
        "decoded, others reach a task only when listed in the queue's accept:"
    )


def _text(body: bytes, charset: str | None) -> str:
    return body.decode(charset or "utf-8")


def _json(body: bytes, charset: str | None) -> DecodedBody:
    try:
        text = _text(body, charset)
        if text.startswith("\ufeff"):  # as json.loads does; JSONDecoder.decode does not
            raise ValueError("Unexpected UTF-8 BOM (decode using utf-8-sig)")
        try:  # the C scanner alone: JSONDecoder.decode adds two calls and two regex matches
            value, end = _SCAN(text, 0)
        except StopIteration:  # nothing at index 0 (whitespace, or not JSON)
            end = -1
        if end != len(text):  # surrounding whitespace, extra data or an error: let it judge
            value = _DECODER.decode(text)
        if "\\u" in text and _ESCAPED_SURROGATE.search(text) and _holds_surrogate(value):
            raise ValueError("an escape makes a lone surrogate, which no text can hold")
    except (UnicodeDecodeError, LookupError, ValueError, RecursionError) as exc:
        raise DecodeError(f"body is not valid JSON: {str(exc)[:200]}") from exc
    return DecodedBody(value, value if isinstance(value, dict) else {})


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object whose keys are all different: a duplicate means two senders' readings differ."""
    value = dict(pairs)
    if len(value) != len(pairs):
        seen: set[str] = set()
        twice = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise ValueError(f"the key {twice!r} appears twice in one object")
    return value


def _holds_surrogate(value: Any) -> bool:
    """True when a decoded value has a lone surrogate in a key or string (rare: walked then)."""
    if isinstance(value, str):
        return _SURROGATE.search(value) is not None
    if isinstance(value, dict):
        return any(_holds_surrogate(k) or _holds_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_surrogate(v) for v in value)
    return False


#: A ``\\uD800``-``\\uDFFF`` escape in JSON text; a pair of them is one character, alone none.
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\\ud800-\\udfff]")


def _refuse_constant(name: str) -> Any:
    """NaN and Infinity are not JSON (encode_body refuses them too)."""
    raise ValueError(f"{name} is not valid JSON")


#: Built once: ``json.loads`` and ``json.dumps`` with any option build a new one per call.
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, object_pairs_hook=_unique_keys)
_SCAN = _DECODER.scan_once  # type: ignore[attr-defined]  # set in __init__, not in typeshed
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _is_json(content_type: str) -> bool:
    return content_type == JSON or _json_media(media_type(content_type).media)


def _json_media(media: str) -> bool:
    return media == JSON or media.endswith("+json")
