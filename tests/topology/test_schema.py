"""The shipped JSON Schema: valid itself, strict, and in step with the code's name rules."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

from mqwire.schemas import load_schema
from mqwire.topology.model import NAME_PATTERN


def walk(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        return [node] + [n for v in node.values() for n in walk(v)]
    if isinstance(node, list):
        return [n for v in node for n in walk(v)]
    return []


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    Draft202012Validator.check_schema(load_schema())


def test_every_object_with_properties_refuses_unknown_keys() -> None:
    schema = load_schema()
    assert [n for n in walk(schema) if "properties" in n and "additionalProperties" not in n] == []


def test_name_pattern_matches_the_code() -> None:
    assert load_schema()["$defs"]["name"]["pattern"] == f"^{NAME_PATTERN}$"


def test_schema_is_package_data() -> None:
    assert load_schema()["$id"] == "urn:mqwire:schema:topology:1"
