"""``mq-compile diff``'s schedule class: schedules added, removed, or firing differently.

Pure, like :mod:`.semantic_diff_routing`: two topologies in, one (name, summary, details) per
changed schedule out; :mod:`.semantic_diff` classifies them. A schedule is its own class
because a changed period or target publishes work nobody asked for in the pull request's
words (a cron that fires hourly instead of nightly), however small the line that changed.
"""

from __future__ import annotations

from mqwire.topology.model import Schedule, Topology, format_seconds

#: The fields compared, in report order, and how each is named in a summary.
_FIELDS = (
    ("every", "every"),
    ("cron", "cron"),
    ("timezone", "timezone"),
    ("publisher_consumer", "publisher"),
    ("routing_key", "routing key"),
    ("task", "task"),
    ("body", "body"),
    ("missed", "missed runs"),
)


def _when(schedule: Schedule) -> str:
    if schedule.every is not None:
        return f"every {format_seconds(schedule.every)}"
    return f"cron `{schedule.cron}` ({schedule.timezone})"


def _what(schedule: Schedule) -> str:
    if not schedule.publisher_consumer:  # a scanned task's, and scan: was not imported
        return f"task {schedule.task}"
    target = f"`{schedule.routing_key}` via {schedule.publisher_consumer}"
    return f"task {schedule.task} ({target})" if schedule.task else target


def _show(field: str, value: object) -> str:
    if value is None:
        return "(none)"
    if field == "every" and isinstance(value, float):
        return format_seconds(value)
    return f"`{value}`"


def schedule_differences(old: Topology, new: Topology) -> list[tuple[str, str, tuple[str, ...]]]:
    """(schedule name, summary, details) for each schedule that differs, by name."""
    found: list[tuple[str, str, tuple[str, ...]]] = []
    for name in sorted(set(old.schedules) | set(new.schedules)):
        before, after = old.schedules.get(name), new.schedules.get(name)
        if before is None and after is not None:
            found.append((name, f"new: {_what(after)}, {_when(after)}", ()))
        elif after is None and before is not None:
            found.append((name, f"removed: it published {_what(before)}, {_when(before)}", ()))
        elif before is not None and after is not None and before != after:
            changed = [
                f"{label}: {_show(field, getattr(before, field))} -> "
                f"{_show(field, getattr(after, field))}"
                for field, label in _FIELDS
                if getattr(before, field) != getattr(after, field)
            ]
            found.append((name, "; ".join(changed), ()))
    return found
