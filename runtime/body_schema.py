"""Queue ``schema:`` files as validators of message bodies, used on publish and on receipt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jsonschema import FormatChecker
from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for

from mqwire.topology.errors import format_json_path
from mqwire.topology.message_schema import parse_message_schema

from .dispatch import BodyValidator
from .errors import ConfigurationError, MessageSchemaError


def body_validator(schema: dict[str, Any], queue: str) -> BodyValidator:
    """A callable raising MessageSchemaError, naming the queue, the path and the problem."""
    validator = validator_for(schema)(schema, format_checker=FormatChecker())

    def validate(value: Any) -> None:
        try:
            error = best_match(validator.iter_errors(value))
        except RecursionError:  # a recursive schema walks a body as deep as it is nested
            raise MessageSchemaError(
                f"body is nested too deeply to check against the schema of queue {queue!r}"
            ) from None
        if error is not None:
            where = format_json_path(list(error.absolute_path))
            raise MessageSchemaError(
                f"body does not match the schema of queue {queue!r}: {error.message} (at {where})"
            )

    return validate


def load_body_validator(path: Path, queue: str) -> BodyValidator:
    """Read and check a schema file at start-up.

    Raises:
        ConfigurationError: the file is missing or not a valid JSON Schema.
    """
    try:
        schema = parse_message_schema(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigurationError(f"schema of queue {queue!r} ({path}): {exc}") from exc
    return body_validator(schema, queue)
