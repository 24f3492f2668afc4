"""Queue schema files: read as the wiring loads, made a jsonschema validator on first use."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mqwire.runtime.body_schema import load_body_validator
from mqwire.runtime.errors import ConfigurationError, MessageSchemaError

SCHEMA = {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "body.json"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_body_is_checked_against_the_file(tmp_path: Path) -> None:
    validate = load_body_validator(write(tmp_path, json.dumps(SCHEMA)), "jobs")
    validate({"id": 1})
    with pytest.raises(MessageSchemaError, match=r"queue 'jobs': 'id' is a required property"):
        validate({})
    with pytest.raises(MessageSchemaError, match=r"is not of type 'integer' \(at \$\.id\)"):
        validate({"id": "one"})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "No such file"),
        ("{oops", "Expecting property name"),
        ("[1, 2]", "is not a JSON object"),
    ],
)
def test_a_missing_or_garbled_file_stops_loading(
    tmp_path: Path, text: str | None, message: str
) -> None:
    path = tmp_path / "body.json" if text is None else write(tmp_path, text)
    with pytest.raises(ConfigurationError, match=f"schema of queue 'jobs' .*{message}"):
        load_body_validator(path, "jobs")


def test_a_file_that_is_no_json_schema_refuses_every_body_with_the_reason(tmp_path: Path) -> None:
    """mq-compile checked the file; one changed since is never taken as "no constraint"."""
    validate = load_body_validator(write(tmp_path, '{"type": "objekt"}'), "jobs")
    for body in ({"id": 1}, {}):
        with pytest.raises(MessageSchemaError, match=r"schema of queue 'jobs' .* is not a valid"):
            validate(body)


def test_jsonschema_is_imported_only_when_a_body_is_checked(tmp_path: Path) -> None:
    path = write(tmp_path, json.dumps(SCHEMA))
    script = f"""
import sys
from pathlib import Path
from mqwire.runtime.body_schema import load_body_validator
validate = load_body_validator(Path({str(path)!r}), "jobs")
before = "jsonschema" in sys.modules
validate({{"id": 1}})
print(before, "jsonschema" in sys.modules)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["False", "True"]
