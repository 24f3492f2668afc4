"""JSON Schema stage: every schema violation as a located TopologyError."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from mqwire.schemas import load_schema

from ._yaml import ParsedYaml, locate
from .errors import PathPart, TopologyError, did_you_mean

#: What YAML 1.1 turns plain words into, for the "quote it" hint.
_SCALAR_TYPES = {bool: "a boolean", int: "a number", float: "a number", type(None): "null"}


@cache
def topology_validator() -> Draft202012Validator:
    """The validator for topology files; the schema is checked once, when first used."""
    schema = load_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def schema_errors(parsed: ParsedYaml, source: str) -> list[TopologyError]:
    """Validate ``parsed.data`` and return every problem, pointing at the key or value at fault."""
    errors: list[TopologyError] = []
    for error in topology_validator().iter_errors(parsed.data):
        errors.extend(_translate(error, parsed, source))
    return errors


def _schema(error: ValidationError) -> dict[str, Any]:
    """The subschema that failed (jsonschema types it loosely; ours are always objects)."""
    return error.schema if isinstance(error.schema, dict) else {}


def _translate(error: ValidationError, parsed: ParsedYaml, source: str) -> Iterator[TopologyError]:
    path: tuple[PathPart, ...] = tuple(error.absolute_path)
    if "propertyNames" in error.absolute_schema_path:
        key_path = (*path, str(error.instance))
        yield TopologyError(
            locate(parsed, key_path, key=True), _message(error), key_path, _pattern_hint(error)
        )
    elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = sorted(_schema(error).get("properties", {}))
        for extra in sorted(set(error.instance) - set(known)):
            key_path = (*path, extra)
            hint = did_you_mean(extra, known)
            yield TopologyError(
                locate(parsed, key_path, key=True), f"unknown key {extra!r}", key_path, hint
            )
    elif error.validator == "required":
        yield TopologyError(locate(parsed, path, key=True), error.message, path)
    else:
        yield TopologyError(
            locate(parsed, path), _message(error), path, _type_hint(error, parsed, path)
        )


def _message(error: ValidationError) -> str:
    """jsonschema's text where it reads well; our words where it shows a raw regex or const."""
    if error.validator == "pattern" or (error.validator == "anyOf" and "title" in _schema(error)):
        title = _schema(error).get("title", "value")
        return f"{error.instance!r} is not a valid {title}"
    if error.validator == "const" and list(error.absolute_path) == ["version"]:
        return f"unsupported version {error.instance!r}; this mqwire reads version 1"
    if error.validator == "type" and not error.absolute_path:
        if error.instance is None:
            return "the file holds no topology; it starts with `version: 1`"
        return "a topology is a mapping of keys (version, connections, publisher_consumers, ...)"
    if error.validator == "type" and error.instance is None:
        return f"a value is missing here (expected {_expected(error)})"
    return error.message


def _pattern_hint(error: ValidationError) -> str | None:
    description = _schema(error).get("description")
    titled = error.validator == "anyOf" and "title" in _schema(error)
    return str(description) if (error.validator == "pattern" or titled) and description else None


def _type_hint(
    error: ValidationError, parsed: ParsedYaml, path: tuple[PathPart, ...]
) -> str | None:
    if error.validator in ("pattern", "anyOf"):
        return _pattern_hint(error)
    if error.validator != "type" or "string" not in _expected(error):
        return None
    scalar = parsed.scalars.get(path)
    kind = _SCALAR_TYPES.get(type(error.instance))
    if scalar is None or not scalar.plain or kind is None:
        return None
    return f'YAML reads {scalar.text} as {kind}; quote it: "{scalar.text}"'


def _expected(error: ValidationError) -> str:
    expected = error.validator_value
    return "', '".join(expected) if isinstance(expected, list) else str(expected)
