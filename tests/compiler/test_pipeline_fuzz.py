"""Hostile topologies through the whole in-process pipeline: located errors, never a traceback.

Accepted topologies (``topology_strategies``) are mutated at a random place with values a
hostile or careless file may hold (non-finite numbers, lone surrogates, huge numbers, control
characters, path tricks, wrong types) and then loaded, compiled, exported, drawn, explained,
linted and diffed against the original. Each stage either returns or raises one of mqwire's
own errors (``MqError``, which ``TopologyErrors`` is): anything else is a crash a user would
see as a traceback.
"""

from __future__ import annotations

import contextlib
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from topology_strategies import topology_dicts

from mqwire.compiler import compile_topology
from mqwire.compiler.explain import explain_key, lint, render_explanation
from mqwire.compiler.export import export_definitions
from mqwire.compiler.graph import render
from mqwire.compiler.semantic_diff import diff_topologies
from mqwire.topology import load_topology
from mqwire.topology.errors import MqError
from mqwire.topology.model import Topology

HOSTILE_LEAVES = st.sampled_from(
    [
        float("inf"),
        float("-inf"),
        float("nan"),
        10**40,
        -1,
        0,
        0.0001,
        True,
        None,
        "",
        " ",
        "\ud800",
        "a\udfffb",
        "\x00",
        "\x1b[31m",
        "line\nbreak",
        "../../etc/passwd",
        "${",
        "$",
        "${A:-${B}}",
        "amq.gen",
        "#",
        "*.*.#",
        "a..b",
        "x" * 300,
        "é" * 200,
        "%(here)s",
        "[section]",
        "tasks:run",
        "app.tasks:",
    ]
)
HOSTILE = st.recursive(
    HOSTILE_LEAVES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(HOSTILE_LEAVES.map(str), inner),
    max_leaves=6,
)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into ``node`` (dict keys and list indexes), the root excluded."""
    found: list[tuple[Any, ...]] = []
    if isinstance(node, dict):
        items: list[tuple[Any, Any]] = list(node.items())
    elif isinstance(node, list):
        items = list(enumerate(node))
    else:
        return found
    for key, child in items:
        found.append((*prefix, key))
        found.extend(paths(child, (*prefix, key)))
    return found


def mutated(data: dict[str, Any], path: tuple[Any, ...], value: Any, key: bool) -> dict[str, Any]:
    """A copy of ``data`` with the value at ``path`` replaced, or its key renamed (``key``)."""
    copy: Any = yaml.safe_load(yaml.safe_dump(data, allow_unicode=True))
    node = copy
    for part in path[:-1]:
        node = node[part]
    if key and isinstance(node, dict):
        node[str(value)] = node.pop(path[-1])
    else:
        node[path[-1]] = value
    return copy  # type: ignore[no-any-return]


def run_pipeline(text: str, original: Topology) -> None:
    """Every in-process stage; MqError is a reported problem, anything else fails the test."""
    try:
        topology = load_topology(text, scanner=None, read_file=lambda name: "{}")
    except MqError:
        return
    for stage in (
        lambda: compile_topology(topology),
        lambda: export_definitions(topology),
        lambda: render(topology, "mermaid"),
        lambda: render(topology, "dot"),
        lambda: lint(topology),
        lambda: diff_topologies(original, topology),
        lambda: diff_topologies(topology, original),
    ):
        with contextlib.suppress(MqError):
            stage()
    for key in ("a", "lots.mail", "#", "a.b.c", ""):
        with contextlib.suppress(MqError):
            render_explanation(key, explain_key(topology, key))


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(topology_dicts(), st.data())
def test_a_mutated_topology_is_reported_or_compiled_never_crashes(
    data: dict[str, Any], draw: st.DataObject
) -> None:
    original = load_topology(yaml.safe_dump(data, allow_unicode=True), scanner=None)
    for _ in range(draw.draw(st.integers(1, 4), label="mutations")):
        every = paths(data)
        leaves = [p for p in every if not isinstance(_at(data, p), (dict, list))] or every
        where = draw.draw(st.sampled_from(leaves) | st.sampled_from(every), label="path")
        value = draw.draw(HOSTILE_LEAVES | HOSTILE, label="value")
        key = draw.draw(st.booleans(), label="rename the key instead")
        data = mutated(data, where, value, key)
    run_pipeline(yaml.safe_dump(data, allow_unicode=True), original)


def _at(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


@settings(max_examples=150, deadline=None)
@given(topology_dicts(), st.text(max_size=80), st.integers(min_value=0))
def test_a_truncated_or_spliced_text_is_reported_or_compiled_never_crashes(
    data: dict[str, Any], splice: str, cut: int
) -> None:
    text = yaml.safe_dump(data, allow_unicode=True)
    cut %= len(text) + 1
    original = load_topology(text, scanner=None)
    run_pipeline(text[:cut] + splice + text[cut:], original)
