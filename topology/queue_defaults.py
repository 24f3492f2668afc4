"""Topology-wide queue defaults and the checks of each queue's effective arguments.

``defaults: {queues: {arguments: {x-queue-type: quorum}}}`` gives every queue those arguments;
a queue's own ``arguments:`` override them key by key. Everything after the loader (the
semantic checks here, the model, hence the INI, explain, graph, export and the declaration
plan) sees only the effective arguments, so a topology without ``defaults:`` is unchanged.

A default with an unknown name or a bad value is reported once, where the default is written;
a default that does not fit one queue (``x-delivery-limit`` on a classic queue) is reported at
that queue, with the default as the related place.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from ._yaml import locate
from .argument_checks import (
    ArgumentProblem,
    check_argument_values,
    check_arguments,
    check_queue_flags,
)
from .argument_specs import KNOWN_ARGUMENTS, queue_type_of
from .check_state import CheckState
from .errors import Location, PathPart, did_you_mean
from .model import default_dead_letter_queue

#: Where the default queue arguments are written.
DEFAULT_ARGUMENTS_PATH: tuple[PathPart, ...] = ("defaults", "queues", "arguments")


def default_arguments(data: Any) -> dict[str, Any]:
    """The default queue arguments of parsed topology ``data`` (empty when none or malformed)."""
    node = data
    for key in DEFAULT_ARGUMENTS_PATH:
        node = node.get(key) if isinstance(node, Mapping) else None
    if not isinstance(node, Mapping):
        return {}
    return {k: v for k, v in node.items() if isinstance(k, str)}


def effective_arguments(queue: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """The defaults, overridden key by key by the queue's own ``arguments:``, where ``null``
    removes a default (a ``null`` that removes nothing stays, for the checks to refuse)."""
    own = queue.get("arguments")
    merged = {**defaults, **(own if isinstance(own, Mapping) else {})}
    return {k: v for k, v in merged.items() if not (v is None and k in defaults)}


def check_default_arguments(state: CheckState) -> dict[str, Any]:
    """Report unknown names and bad values among the defaults; return the defaults."""
    defaults = default_arguments(state.parsed.data)
    for problem in check_argument_values(defaults):
        assert problem.key is not None  # a value problem always names its argument
        state.error((*DEFAULT_ARGUMENTS_PATH, problem.key), problem.message, key=True,
                    hint=problem.hint)  # fmt: skip
    return defaults


def check_queue_arguments(
    state: CheckState, name: str, queue: Mapping[str, Any], defaults: Mapping[str, Any]
) -> None:
    """The queue's effective arguments and flags, each problem where it can be fixed."""
    base: tuple[PathPart, ...] = ("queues", name)
    own = queue.get("arguments", {})
    if not isinstance(own, Mapping):
        return
    arguments = effective_arguments(queue, defaults)
    inherited = {k for k in defaults if k not in own}
    at_defaults = {p.key for p in check_argument_values(defaults)}
    problems = check_arguments(arguments)
    flags = {f: queue.get(f, f == "durable") for f in ("durable", "exclusive", "auto_delete")}
    if all(isinstance(v, bool) for v in flags.values()):
        problems += check_queue_flags(arguments=arguments, **flags)
    for problem in problems:
        if problem.key in inherited and problem.key in at_defaults:
            continue  # reported once, where the default is written
        _report(state, base, problem, inherited, defaults)
    if arguments.get("x-queue-type") == "stream" and "consumer" in queue:
        state.error(
            (*base, "consumer"),
            "a stream queue cannot be consumed as a work queue "
            "(no per-message requeue or dead-lettering)",
            hint="use a classic or quorum queue",
        )


def check_dead_letter_target(
    state: CheckState,
    name: str,
    queue: Mapping[str, Any],
    defaults: Mapping[str, Any],
    declared: Collection[str],
) -> None:
    """A dead-letter through the default exchange must name a queue that will exist.

    The default exchange routes by queue name and drops what matches none, so a routing key
    naming no queue of the topology (nor one mqwire declares for it: ``declared``) loses every
    dead letter. Wrong types and queue types are reported by ``check_queue_arguments``.
    """
    if not isinstance(queue.get("arguments", {}), Mapping):
        return
    arguments = effective_arguments(queue, defaults)
    key = arguments.get("x-dead-letter-routing-key")
    queue_type = queue_type_of(arguments)
    spec = KNOWN_ARGUMENTS["x-dead-letter-routing-key"]
    if (
        arguments.get("x-dead-letter-exchange") != ""
        or not isinstance(key, str)
        or key in declared
        or queue_type not in spec.queue_types
    ):
        return
    close = did_you_mean(key, declared)
    dead = queue.get("dead_letter_queue")
    dead = dead if isinstance(dead, str) else default_dead_letter_queue(name)
    advice = (
        f"name a queue the topology declares, such as its dead-letter queue {dead!r}, "
        "or dead-letter to an exchange of your own"
    )
    problem = ArgumentProblem(
        "x-dead-letter-routing-key",
        f"'x-dead-letter-routing-key' {key!r} names no queue of the topology: the default "
        "exchange drops its dead letters",
        close if close and close.startswith("did you mean") else advice,
    )
    own = queue.get("arguments", {})
    inherited = {k for k in defaults if k not in own}
    _report(state, ("queues", name), problem, inherited, defaults)


def _report(
    state: CheckState,
    base: tuple[PathPart, ...],
    problem: ArgumentProblem,
    inherited: set[str],
    defaults: Mapping[str, Any],
) -> None:
    """At the argument when the queue writes it, else at the queue, naming the default."""
    key = problem.key
    from_default = key if key in inherited else None
    type_default = str(defaults.get("x-queue-type"))
    if from_default is None and "x-queue-type" in inherited and type_default in problem.message:
        from_default = "x-queue-type"  # refused under the default queue type
    path = base if key is None or key in inherited else (*base, "arguments", key)
    hint = problem.hint
    related: tuple[Location, ...] = ()
    if from_default is not None:
        value = defaults[from_default]
        value = "''" if value == "" else value  # as YAML writes it, not as nothing
        hint = "; ".join(
            p
            for p in (
                hint,
                f"{from_default}: {value} comes from defaults.queues.arguments; "
                f"override it in this queue's arguments ({from_default}: null removes it)",
            )
            if p
        )
        related = (locate(state.parsed, (*DEFAULT_ARGUMENTS_PATH, from_default), key=True),)
    state.error(path, problem.message, key=True, hint=hint, related=related)
