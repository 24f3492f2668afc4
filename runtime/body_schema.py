"""Queue ``schema:`` files as validators of message bodies, used on publish and on receipt.

A file is read and parsed as JSON when the wiring loads, so a missing or garbled file stops
start-up. The jsonschema validator itself is built on first use: importing jsonschema is a
large share of a worker's start-up time and memory, and ``mq-compile`` has already checked
the file against its metaschema. Should the file have changed since into something that is not
a JSON Schema, each body of that queue is refused with that reason (dead-lettered on receipt)
rather than checked against nothing.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from mqwire.topology.errors import format_json_path

from .dispatch import BodyValidator
from .errors import ConfigurationError, MessageSchemaError


def body_validator(schema: dict[str, Any], queue: str) -> BodyValidator:
    """A callable raising MessageSchemaError, naming the queue, the path and the problem."""
    from jsonschema import FormatChecker
    from jsonschema.exceptions import best_match
    from jsonschema.validators import validator_for

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


class LazyBodyValidator:
    """A queue's validator, built from its parsed schema the first time a body is checked."""

    def __init__(self, schema: dict[str, Any], queue: str, path: Path) -> None:
        self.schema, self.queue, self.path = schema, queue, path
        self._validate: BodyValidator | None = None
        self._lock = threading.Lock()

    def __call__(self, value: Any) -> None:
        validate = self._validate
        if validate is None:
            with self._lock:
                validate = self._validate = self._validate or self._build()
        validate(value)

    def _build(self) -> BodyValidator:
        from mqwire.topology.message_schema import check_message_schema

        try:
            check_message_schema(self.schema)
        except ValueError as exc:
            reason = f"the schema of queue {self.queue!r} ({self.path}) {exc}; fix the file"

            def refuse(value: Any) -> None:
                raise MessageSchemaError(reason)

            return refuse
        return body_validator(self.schema, self.queue)


def load_body_validator(path: Path, queue: str) -> BodyValidator:
    """Read a schema file at start-up; the validator is built when first used.

    Raises:
        ConfigurationError: the file is missing, not JSON, or not a JSON object.
    """
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ConfigurationError(f"schema of queue {queue!r} ({path}): {exc}") from exc
    if not isinstance(schema, dict):
        raise ConfigurationError(f"schema of queue {queue!r} ({path}) is not a JSON object")
    return LazyBodyValidator(schema, queue, path)
