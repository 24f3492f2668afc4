"""Queue ``schema:`` files: JSON Schemas for message bodies, checked when the topology loads."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from jsonschema import SchemaError
from jsonschema.validators import validator_for

#: Reads a file named relative to the topology; raises OSError when it cannot.
FileReader = Callable[[str], str]


def parse_message_schema(text: str) -> dict[str, Any]:
    """The schema as a dict, checked against its own metaschema (draft 2020-12 by default).

    Raises:
        ValueError: not JSON, not an object, or not a valid JSON Schema.
    """
    try:
        schema = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"is not valid JSON: {exc}") from exc
    if not isinstance(schema, dict):
        raise ValueError("is not a JSON Schema object")
    check_message_schema(schema)
    return schema


def check_message_schema(schema: dict[str, Any]) -> None:
    """Check a parsed schema against its own metaschema (draft 2020-12 by default).

    Raises:
        ValueError: it is not a valid JSON Schema.
    """
    cls: Any = validator_for(schema, default=validator_for({"$schema": _DRAFT_2020_12}))
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        raise ValueError(f"is not a valid JSON Schema: {exc.message}") from exc


def message_schema_problem(name: str, read_file: FileReader) -> str | None:
    """A one-sentence problem with schema file ``name``, or None if it is usable."""
    try:
        text = read_file(name)
    except (OSError, UnicodeDecodeError) as exc:
        return f"cannot read schema file {name!r}: {getattr(exc, 'strerror', None) or exc}"
    try:
        parse_message_schema(text)
    except ValueError as exc:
        return f"schema file {name!r} {exc}"
    return None


def body_problems(schema: dict[str, Any], body: Any) -> list[str]:
    """Why ``body`` fails ``schema`` (a parsed, valid schema), one line each; none: it passes.

    For bodies the topology itself holds (a schedule's), checked when it loads.
    """
    from jsonschema import FormatChecker

    from .errors import format_json_path

    cls: Any = validator_for(schema, default=validator_for({"$schema": _DRAFT_2020_12}))
    validator = cls(schema, format_checker=FormatChecker())
    return [
        f"{e.message} (at {format_json_path(list(e.absolute_path))})"
        for e in sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    ]


_DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
