"""``schedules:``: periods, bodies and targets as the model and the compiled INI hold them."""

from __future__ import annotations

import pytest

from mqwire.topology import load_topology
from mqwire.topology.errors import Location, TopologyErrors
from mqwire.topology.scan import ScannedTask, ScanResult
from mqwire.topology.schedules import canonical_body, cron_problem, every_seconds

TOPOLOGY = """\
version: 1
publisher_consumers:
  lots: {prefix: t.lots.mq, transport: local, routes: {"lots.*": audit}}
queues:
  cart: {consumer: lots}
  audit: {consumer: lots}
scan: [app.tasks]
schedules:
  release: {task: release_cart, every: 90s, body: {b: 1, a: [2, "x"]}}
  audit: {publisher: lots, routing_key: lots.audit, cron: "*/5 9-17 * * 1-5", missed: skip}
"""


def scanner(packages: object) -> ScanResult:
    found = ScannedTask("release_cart", "app.tasks:release_cart", "cart", Location("app.py", 3))
    return ScanResult(tasks=(found,))


@pytest.mark.parametrize(
    ("text", "seconds"),
    [(30, 30.0), (1.5, 1.5), ("1500ms", 1.5), ("30s", 30.0), ("5m", 300.0), ("2h", 7200.0),
     ("1d", 86400.0), ("0.5h", 1800.0), ("5 m", None), ("5", None), (True, None), (None, None)],
)  # fmt: skip
def test_every_takes_seconds_or_a_number_with_a_unit(text: object, seconds: float | None) -> None:
    assert every_seconds(text) == seconds


def test_bodies_are_canonical_json() -> None:
    assert canonical_body({"b": 1, "a": [2, "x"]}) == '{"a":[2,"x"],"b":1}'
    assert canonical_body(None) == "{}"


def test_cron_needs_five_fields_croniter_accepts() -> None:
    assert cron_problem("0 3 * * *") is None
    assert "6 field(s), not 5" in (cron_problem("0 0 3 * * *") or "")
    assert "not valid" in (cron_problem("0 25 * * *") or "")


def test_a_scanned_task_schedule_resolves_to_its_queue_consumer() -> None:
    topology = load_topology(TOPOLOGY, scanner=scanner, importer=None)
    release, audit = topology.schedules["release"], topology.schedules["audit"]
    assert (release.publisher_consumer, release.routing_key, release.task) == (
        "lots", "cart", "release_cart",
    )  # fmt: skip
    assert (release.every, release.cron, release.body) == (90.0, None, '{"a":[2,"x"],"b":1}')
    assert (audit.publisher_consumer, audit.routing_key, audit.task) == ("lots", "lots.audit", None)
    assert (audit.cron, audit.timezone, audit.missed, audit.every) == (
        "*/5 9-17 * * 1-5", "UTC", "skip", None,
    )  # fmt: skip


def test_a_schedule_may_not_name_an_unknown_scanned_task() -> None:
    text = TOPOLOGY.replace("task: release_cart", "task: release_kart")
    with pytest.raises(TopologyErrors) as caught:
        load_topology(text, scanner=scanner, importer=None)
    assert [e.message for e in caught.value.errors] == ["unknown task 'release_kart'"]


def test_a_body_its_queue_schema_refuses_is_an_error_at_the_body() -> None:
    text = TOPOLOGY.replace(
        "  cart: {consumer: lots}", "  cart: {consumer: lots, schema: cart.json}"
    )
    schema = '{"type": "object", "required": ["cart_id"], "properties": {"cart_id": {}}}'

    def read_file(name: str) -> str:
        assert name == "cart.json"
        return schema

    with pytest.raises(TopologyErrors) as caught:
        load_topology(text, scanner=scanner, importer=None, read_file=read_file)
    (error,) = caught.value.errors
    assert error.message == (
        "the body does not match queue 'cart''s schema 'cart.json': 'cart_id' is a required "
        "property (at $)"
    )
    assert (error.json_path, error.hint) == (
        "$.schedules.release.body",
        "every run would be dead-lettered",
    )
    fixed = text.replace('body: {b: 1, a: [2, "x"]}', "body: {cart_id: 7}")
    assert load_topology(fixed, scanner=scanner, importer=None, read_file=read_file).schedules
