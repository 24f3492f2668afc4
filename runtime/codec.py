"""Message bodies to bytes and back: one path for the AMQP and the local transport alike."""

from __future__ import annotations

import functools
import json
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


def decode_body(body: bytes, content_type: str | None) -> DecodedBody:
    """Decode by content type: JSON, form-urlencoded (as the old system did), or left as bytes.

    A body without content type is read as JSON when it parses, and left alone otherwise.

    Raises:
        DecodeError: the body does not match its declared content type.
    """
    if content_type and _is_json(content_type):
        return _json(body)
    if content_type and content_type.split(";")[0].strip().lower() == FORM:
        try:
            pairs = parse_qs(
                body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body)
            )
        except (UnicodeDecodeError, ValueError) as exc:
            raise DecodeError(f"body is not valid {FORM}: {exc}") from exc
        return DecodedBody(None, {k: v[0] if len(v) == 1 else v for k, v in pairs.items()})
    if not content_type:
        try:
            return _json(body)
        except DecodeError:
            return DecodedBody()
    return DecodedBody()


def _json(body: bytes) -> DecodedBody:
    try:
        text = body.decode("utf-8")
        if text.startswith("\ufeff"):  # as json.loads does; JSONDecoder.decode does not
            raise ValueError("Unexpected UTF-8 BOM (decode using utf-8-sig)")
        try:  # the C scanner alone: JSONDecoder.decode adds two calls and two regex matches
            value, end = _SCAN(text, 0)
        except StopIteration:  # nothing at index 0 (whitespace, or not JSON)
            end = -1
        if end != len(text):  # surrounding whitespace, extra data or an error: let it judge
            value = _DECODER.decode(text)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise DecodeError(f"body is not valid JSON: {str(exc)[:200]}") from exc
    return DecodedBody(value, value if isinstance(value, dict) else {})


def _refuse_constant(name: str) -> Any:
    """NaN and Infinity are not JSON (encode_body refuses them too)."""
    raise ValueError(f"{name} is not valid JSON")


#: Built once: ``json.loads`` and ``json.dumps`` with any option build a new one per call.
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)
_SCAN = _DECODER.scan_once  # type: ignore[attr-defined]  # set in __init__, not in typeshed
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


@functools.lru_cache(maxsize=64)  # a queue sees few content types; bounded against floods
def _is_json(content_type: str) -> bool:
    media = content_type.split(";")[0].strip().lower()
    return media == JSON or media.endswith("+json")
