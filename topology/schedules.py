"""``schedules:``: periodic publishes declared in the topology, checked like every other key.

A schedule names what to publish (``task:``, or ``publisher:`` with ``routing_key:``) and when
(``every:`` a period, or ``cron:`` five fields in ``timezone:``). Cron expressions are read by
croniter and time zones by the standard library's zoneinfo, both imported only when a topology
has schedules, so a worker without ``--schedules`` never loads them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from .check_state import CheckState
from .errors import PathPart, did_you_mean
from .message_schema import body_problems, parse_message_schema
from .routing import routing_key_problem, topic_matches

#: Seconds per unit of an ``every:`` text such as ``30s`` or ``2h``.
UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_EVERY = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)")
#: The shortest and longest period ``every:`` takes: a scheduler wakes at most once a second.
MIN_EVERY, MAX_EVERY = 1.0, 366 * 86400.0


def every_seconds(value: Any) -> float | None:
    """``30``, ``"30s"``, ``"5m"``... as seconds; None when it is neither a number nor such text."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    match = _EVERY.fullmatch(value) if isinstance(value, str) else None
    return float(match[1]) * UNITS[match[2]] if match else None


def canonical_body(body: Any) -> str:
    """The body as the compiled INI holds it: JSON, keys sorted, no spaces (byte-stable)."""
    return json.dumps({} if body is None else body, sort_keys=True, separators=(",", ":"))


def cron_problem(expression: str) -> str | None:
    """Why croniter refuses ``expression``, or None. Only five fields: seconds are not ours."""
    fields = expression.split()
    if len(fields) != 5:
        return (
            f"cron expression {expression!r} has {len(fields)} field(s), not 5 "
            "(minute hour day-of-month month day-of-week)"
        )
    from croniter import croniter  # type: ignore[import-untyped]  # only with schedules

    try:
        croniter(expression)
    except (ValueError, KeyError) as exc:  # croniter's errors are ValueErrors
        return f"cron expression {expression!r} is not valid: {exc}"
    return None


def timezone_problem(name: str) -> str | None:
    """Why ``name`` is not an IANA time zone this machine knows, or None."""
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {name!r} (an IANA name such as 'UTC' or 'Asia/Tokyo')"
    return None


def task_target(
    tasks: Mapping[str, Mapping[str, Any]], queues: Mapping[str, Mapping[str, Any]], task: str
) -> tuple[str, str] | None:
    """(publisher_consumer, routing key) that reaches ``task``: its queue's consumer, by the
    queue's own name (every consumed queue is bound by its name). None when there is none."""
    queue = tasks.get(task, {}).get("queue")
    consumer = queues.get(queue, {}).get("consumer") if isinstance(queue, str) else None
    return (consumer, queue) if isinstance(consumer, str) and isinstance(queue, str) else None


def check_schedules(checker: CheckState) -> None:
    """Report each schedule's problems: what it publishes, when, and how its body is written."""
    tasks: dict[str, Mapping[str, Any]] = dict(checker.tasks)
    for scanned in checker.scan.tasks:
        tasks.setdefault(scanned.name, {"queue": scanned.queue})
    for name, schedule in checker.schedules.items():
        base: tuple[PathPart, ...] = ("schedules", name)
        _check_when(checker, base, schedule)
        _check_what(checker, base, schedule, tasks)
        try:
            canonical_body(schedule.get("body"))
        except (TypeError, ValueError) as exc:
            checker.error((*base, "body"), f"the body cannot be written as JSON: {exc}")
            continue
        for queue in _target_queues(checker, schedule, tasks):
            _check_body(checker, base, schedule.get("body"), queue)


def _check_when(checker: CheckState, base: tuple[PathPart, ...], schedule: Any) -> None:
    every, cron = schedule.get("every"), schedule.get("cron")
    if (every is None) == (cron is None):
        checker.error(
            base, "a schedule needs exactly one of every: and cron:", key=True,
            hint="every: 30s fires every 30 seconds; cron: \"0 3 * * *\" at 03:00",
        )  # fmt: skip
    seconds = every_seconds(every) if every is not None else None
    if seconds is not None and not (MIN_EVERY <= seconds <= MAX_EVERY and math.isfinite(seconds)):
        checker.error(
            (*base, "every"), f"every: must be from 1 s to 366 days, not {every!r}",
        )  # fmt: skip
    if isinstance(cron, str):
        problem = cron_problem(cron)
        if problem:
            checker.error((*base, "cron"), problem, hint="see `man 5 crontab`")
    zone = schedule.get("timezone")
    if isinstance(zone, str):
        if cron is None:
            checker.error((*base, "timezone"), "timezone: applies to cron: schedules only")
        problem = timezone_problem(zone)
        if problem:
            checker.error((*base, "timezone"), problem)


def _check_what(
    checker: CheckState,
    base: tuple[PathPart, ...],
    schedule: Any,
    tasks: Mapping[str, Mapping[str, Any]],
) -> None:
    task, publisher, key = (schedule.get(k) for k in ("task", "publisher", "routing_key"))
    if (task is None) == (publisher is None):
        checker.error(
            base, "a schedule needs exactly one of task: and publisher: (with routing_key:)",
            key=True,
        )  # fmt: skip
    if task is not None and key is not None:
        checker.error((*base, "routing_key"), "routing_key: goes with publisher:, not task:")
    if isinstance(task, str):
        if task not in tasks:
            if checker.scan.skipped:
                return  # a task of a scan: package, perhaps; not imported here (diff)
            checker.error((*base, "task"), f"unknown task {task!r}", hint=did_you_mean(task, tasks))
        elif task_target(tasks, checker.queues, task) is None:
            checker.error(
                (*base, "task"),
                f"task {task!r} runs on a queue no publisher_consumer consumes, so nothing "
                "would publish to it",
                hint="give its queue a consumer:, or use publisher: and routing_key:",
            )
    if publisher is None:
        return
    if key is None:
        checker.error(base, "publisher: needs routing_key:", key=True)
    if not checker.reference((*base, "publisher"), "publisher_consumer", publisher,
                             checker.publisher_consumers) or not isinstance(key, str):  # fmt: skip
        return
    problem = routing_key_problem(key)
    if problem:
        checker.error((*base, "routing_key"), problem)
    elif not _reaches_a_queue(checker, publisher, key):
        checker.error(
            (*base, "routing_key"),
            f"routing key {key!r} reaches no queue of publisher_consumer {publisher!r}",
            hint="every run would be unroutable: add a route for it, or fix the key",
        )


def _reaches_a_queue(checker: CheckState, publisher: str, key: str) -> bool:
    routes = checker.publisher_consumers[publisher].get("routes")
    patterns = list(routes) if isinstance(routes, Mapping) else []
    own = [q for q, spec in checker.queues.items() if spec.get("consumer") == publisher]
    return key in own or any(topic_matches(p, key) for p in patterns if isinstance(p, str))


def _target_queues(
    checker: CheckState, schedule: Any, tasks: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """The queues a schedule's runs reach (checked only when its target is well-formed)."""
    task, publisher, key = (schedule.get(k) for k in ("task", "publisher", "routing_key"))
    if isinstance(task, str) and isinstance(tasks.get(task, {}).get("queue"), str):
        return [tasks[task]["queue"]]
    if not (isinstance(publisher, str) and isinstance(key, str)):
        return []
    pc = checker.publisher_consumers.get(publisher, {})
    raw = pc.get("routes")
    routes: Mapping[Any, Any] = raw if isinstance(raw, Mapping) else {}
    reached = {q for q, spec in checker.queues.items() if spec.get("consumer") == publisher
               and q == key}  # fmt: skip
    for pattern, target in routes.items():
        if isinstance(pattern, str) and topic_matches(pattern, key):
            reached.update(t for t in ([target] if isinstance(target, str) else target or [])
                           if isinstance(t, str))  # fmt: skip
    return sorted(reached)


def _check_body(checker: CheckState, base: tuple[PathPart, ...], body: Any, queue: str) -> None:
    """A body its queue's ``schema:`` refuses would be dead-lettered on every run."""
    name = checker.queues.get(queue, {}).get("schema")
    if not isinstance(name, str) or checker.read_file is None:
        return
    try:
        schema = parse_message_schema(checker.read_file(name))
    except (OSError, UnicodeDecodeError, ValueError):
        return  # the queue's own check reports an unreadable schema
    for problem in body_problems(schema, {} if body is None else body):
        checker.error(
            (*base, "body"),
            f"the body does not match queue {queue!r}'s schema {name!r}: {problem}",
            hint="every run would be dead-lettered",
        )
