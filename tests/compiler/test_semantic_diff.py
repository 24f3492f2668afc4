"""The semantic diff: a corpus of before/after pairs compared with their exact Markdown report.

Each folder in diff_cases/ holds ``old.yaml``, ``new.yaml`` and ``expected.md``. Regenerate
after an intended change with ``MQWIRE_UPDATE_GOLDEN=1 pytest tests/compiler`` and review the
diff like any other code change.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mqwire.compiler.semantic_diff import diff_topologies
from mqwire.compiler.semantic_diff_change import Change, counts
from mqwire.compiler.semantic_diff_render import render_markdown, render_text
from mqwire.compiler.semantic_diff_routing import example_keys, routing_differences
from mqwire.topology import Topology, load_topology, load_topology_file

CASES = Path(__file__).parent / "diff_cases"
UPDATE = os.environ.get("MQWIRE_UPDATE_GOLDEN") == "1"
NAMES = sorted(p.name for p in CASES.iterdir() if p.is_dir())


def load(case: str, side: str) -> Topology:
    return load_topology_file(CASES / case / f"{side}.yaml", scanner=None)


def diff_case(case: str) -> list[Change]:
    return diff_topologies(load(case, "old"), load(case, "new"))


def test_corpus_has_one_case_per_class_plus_mixed_and_identical() -> None:
    assert NAMES == [
        "additive",
        "destructive",
        "identical",
        "incompatible",
        "mixed",
        "other",
        "routing",
        "schedule",
    ]


@pytest.mark.parametrize("case", NAMES)
def test_case_renders_expected_markdown(case: str) -> None:
    report = render_markdown(diff_case(case), "old.yaml", "new.yaml")
    expected = CASES / case / "expected.md"
    if UPDATE:
        expected.write_text(report, encoding="utf-8")
    assert report == expected.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("case", "classes"),
    [
        ("additive", {"additive"}),
        ("routing", {"routing", "additive"}),
        ("incompatible", {"incompatible"}),
        ("destructive", {"destructive", "routing"}),
        ("other", {"other"}),
        ("mixed", {"incompatible", "destructive", "routing", "additive", "other"}),
        ("identical", set()),
    ],
)
def test_case_has_exactly_its_classes(case: str, classes: set[str]) -> None:
    assert {cls for cls, n in counts(diff_case(case)).items() if n} == classes


@pytest.mark.parametrize("case", NAMES)
def test_diff_is_stable_and_sorted(case: str) -> None:
    changes = diff_case(case)
    assert changes == diff_case(case)
    assert changes == sorted(changes, key=Change.sort_key)


@pytest.mark.parametrize("case", NAMES)
def test_a_topology_has_no_changes_against_itself(case: str) -> None:
    new = load(case, "new")
    assert diff_topologies(new, new) == []


def test_reverse_of_additive_is_destructive() -> None:
    changes = diff_topologies(load("additive", "new"), load("additive", "old"))
    removed = {(c.entity, c.name) for c in changes if c.cls == "destructive"}
    assert ("queue", "billing.invoices") in removed
    assert ("task", "send_invoice") in removed
    assert ("publisher_consumer", "billing") in removed


def test_incompatible_changes_say_how_to_migrate() -> None:
    (change,) = [c for c in diff_case("incompatible") if c.name == "lots.mail"]
    assert change.summary == "queue type `classic` -> `quorum`"
    assert "406 PRECONDITION_FAILED" in change.details[0]
    assert "`lots.mail.v2`" in change.details[0]
    assert "rabbitmqctl delete_queue lots.mail" in change.details[0]


def test_quorum_defaults_show_as_a_type_change_of_each_queue_and_its_failure_queues() -> None:
    """Adding ``defaults: {queues: {arguments: {x-queue-type: quorum}}}`` to a deployed topology
    changes every queue that does not say its type, and the retry and dead-letter queues with it."""
    text = "version: 1\npublisher_consumers: {w: {prefix: w.mq, transport: local}}\nqueues:\n"
    queues = "  a: {consumer: w, retry: {delays: [5]}}\n  b: {arguments: {x-queue-type: classic}}\n"
    defaults = "defaults: {queues: {arguments: {x-queue-type: quorum}}}\n"
    old = load_topology(text + queues, scanner=None)
    new = load_topology(defaults + text + queues, scanner=None)
    (change,) = diff_topologies(old, new)
    assert (change.cls, change.name) == ("incompatible", "a")
    assert change.summary == "queue type `classic` -> `quorum`"
    assert "(`a.dead`, `a.retry.5s`)" in change.details[1]


def test_routing_change_lists_concrete_keys_before_and_after() -> None:
    differences = routing_differences(load("routing", "old"), load("routing", "new"))
    assert differences["lots"][0] == ("lots", ("lots.audit",), ("lots.audit", "lots.mail"))
    before, after = ("lots.audit", "lots.election"), ("lots.audit", "lots.election", "lots.mail")
    assert ("lots.election", before, after) in differences["lots"]


def test_example_keys_replace_wildcards() -> None:
    assert example_keys("lots.*.mail") == ["lots.x.mail"]
    assert example_keys("lots.#") == ["lots", "lots.x", "lots.x.y"]
    assert example_keys("#") == ["x", "x.y"]  # zero words would be the empty key
    assert example_keys("a.b") == ["a.b"]


def test_text_format_has_no_markdown() -> None:
    text = render_text(diff_case("mixed"), "old.yaml", "new.yaml")
    assert text.splitlines()[:2] == [
        "topology changes: old.yaml -> new.yaml",
        "1 broker-incompatible, 1 destructive, 1 routing, 0 schedule, 4 additive, 1 other",
    ]
    assert "`" not in text
    assert "**" not in text
    assert "  queue lots.election: argument x-max-priority 10 -> 5" in text


def test_identical_reports_no_changes() -> None:
    assert render_text([], "a", "b") == "topology changes: a -> b\nno semantic changes\n"


def test_docs_example_is_the_mixed_case() -> None:
    page = (Path(__file__).parents[2] / "docs" / "mq-compile.md").read_text(encoding="utf-8")
    section = page.split("## Reviewing topology changes\n", 1)[1]
    example = section.split("````markdown\n", 1)[1].split("````\n", 1)[0]
    expected = (CASES / "mixed" / "expected.md").read_text(encoding="utf-8")
    title = "## Topology changes: `topology.yaml@origin/main` -> `topology.yaml`"
    assert example == expected.replace(expected.splitlines()[0], title).rstrip() + "\n"
