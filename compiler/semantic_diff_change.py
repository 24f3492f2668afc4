"""A classified change of ``mq-compile diff``: its classes in report order, and how the
classifiers show values (the same way for every entity, so reports read alike).

Pure, like the rest of the semantic diff: :mod:`.semantic_diff` finds the changes,
:mod:`.semantic_diff_render` prints them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

ChangeClass = Literal["incompatible", "destructive", "routing", "schedule", "additive", "other"]

#: Classes in report order (most dangerous first), with their section titles.
CLASSES: tuple[ChangeClass, ...] = (
    "incompatible", "destructive", "routing", "schedule", "additive", "other",
)  # fmt: skip
TITLES: Mapping[ChangeClass, str] = {
    "incompatible": "broker-incompatible",
    "destructive": "destructive",
    "routing": "routing",
    "schedule": "schedule",
    "additive": "additive",
    "other": "other",
}

#: Classes that make ``mq-compile diff`` exit 3 unless explicitly allowed.
BLOCKING: tuple[ChangeClass, ...] = ("incompatible", "destructive")

#: Entities in report order within a class.
_ENTITIES = (
    "queue", "publisher_consumer", "exchange", "route", "task", "schedule", "connection", "scan",
    "middleware",
)  # fmt: skip


@dataclass(frozen=True)
class Change:
    """One classified change: ``entity`` ``name`` (e.g. queue ``lots.mail``) and what changed."""

    cls: ChangeClass
    entity: str
    name: str
    summary: str
    details: tuple[str, ...] = ()

    def sort_key(self) -> tuple[int, int, str, str]:
        entity = _ENTITIES.index(self.entity) if self.entity in _ENTITIES else len(_ENTITIES)
        return (CLASSES.index(self.cls), entity, self.name, self.summary)


def counts(changes: Iterable[Change]) -> dict[ChangeClass, int]:
    """Number of changes per class, every class present (zero when none)."""
    result: dict[ChangeClass, int] = dict.fromkeys(CLASSES, 0)
    for change in changes:
        result[change.cls] += 1
    return result


def show(value: Any) -> str:
    """A value as a report shows it: in backticks, booleans as YAML writes them."""
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple | list):
        return show_list(value)
    if isinstance(value, float) and value.is_integer():
        return f"`{int(value)}`"
    return f"`{value}`"


def show_list(values: Iterable[Any]) -> str:
    """Values in backticks, comma-separated; ``(none)`` when there are none."""
    items = [f"`{v}`" for v in values]
    return ", ".join(items) if items else "(none)"


def field_diffs(old: Any, new: Any, fields: Iterable[str]) -> list[str]:
    """``field `was` -> `now` `` for each of ``fields`` that differs between two entities."""
    return [
        f"{name} {show(getattr(old, name))} -> {show(getattr(new, name))}"
        for name in fields
        if getattr(old, name) != getattr(new, name)
    ]
