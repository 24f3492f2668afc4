"""Render a semantic diff: Markdown for a pull-request comment, or plain text for a terminal.

Pure and deterministic: the same changes always give the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .semantic_diff_change import CLASSES, TITLES, Change, ChangeClass, counts

#: A sentence under each Markdown section, saying why the class matters.
INTROS: Mapping[ChangeClass, str] = {
    "incompatible": "RabbitMQ refuses these on an existing queue with 406 PRECONDITION_FAILED: "
    "the deploy fails until the queue is migrated.",
    "destructive": "These strand messages or leave a queue without a consumer or task.",
    "routing": "Example routing keys that now reach other queues (before -> after).",
    "schedule": "Periodic publishes that start, stop, or publish something else or at other "
    "times once deployed.",
    "additive": "",
    "other": "",
}


def summary_line(changes: Sequence[Change]) -> str:
    """``0 broker-incompatible, 1 destructive, ...``: every class, in report order."""
    per_class = counts(changes)
    return ", ".join(f"{per_class[c]} {TITLES[c]}" for c in CLASSES)


def _entity(change: Change) -> str:
    return f"{change.entity.replace('_', ' ')} `{change.name}`"


def render_markdown(changes: Sequence[Change], old_label: str, new_label: str) -> str:
    """A Markdown report: a title, the counts per class, then one section per class."""
    lines = [f"## Topology changes: `{old_label}` -> `{new_label}`", ""]
    if not changes:
        return "\n".join([*lines, "No semantic changes.", ""])
    lines += [f"**{summary_line(changes)}**", ""]
    for cls in CLASSES:
        section = [c for c in changes if c.cls == cls]
        if not section:
            continue
        title = TITLES[cls]
        lines += [f"### {title[0].upper()}{title[1:]} ({len(section)})", ""]
        if INTROS[cls]:
            lines += [INTROS[cls], ""]
        for change in section:
            lines.append(f"- **{_entity(change)}**: {change.summary}")
            lines += [f"  - {detail}" for detail in change.details]
        lines.append("")
    return "\n".join(lines)


def _plain(text: str) -> str:
    return text.replace("`", "")


def render_text(changes: Sequence[Change], old_label: str, new_label: str) -> str:
    """The same report as plain text, one change per line, details indented."""
    lines = [f"topology changes: {old_label} -> {new_label}"]
    if not changes:
        return "\n".join([*lines, "no semantic changes", ""])
    lines += [summary_line(changes)]
    for cls in CLASSES:
        section = [c for c in changes if c.cls == cls]
        if not section:
            continue
        lines += ["", f"{TITLES[cls]}:"]
        for change in section:
            lines.append(_plain(f"  {_entity(change)}: {change.summary}"))
            lines += [_plain(f"    {detail}") for detail in change.details]
    return "\n".join([*lines, ""])
