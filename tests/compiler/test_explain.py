"""``mq-compile explain``: following a routing key, and the topology lint."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import pytest
from tool_example import EXAMPLE, load_example

from mqwire.compiler import cli, explain_cli
from mqwire.compiler._cli import read_topology
from mqwire.compiler.explain import (
    Finding,
    Reach,
    explain_key,
    lint,
    pattern_covers,
    render_explanation,
)
from mqwire.topology import load_topology
from mqwire.topology.routing import topic_matches

TOPOLOGY = str(EXAMPLE / "topology.yaml")

#: Every kind of finding, each on a line the tests can name.
LINTY = """\
version: 1
connections:
  main: {url: "amqp://broker/"}
publisher_consumers:
  app:
    prefix: app.mq
    transport: amqp
    connection: main
    exchange: events
    routes:
      "lots.#": lots
      "lots.*": lots
      "lots.audit": [lots, audit]
      "mail.#": mail
  other:
    prefix: other.mq
    transport: local
    exchange: events
    routes:
      "mail.#": mail
queues:
  lots: {consumer: app}
  audit: {consumer: app}
  mail: {consumer: other}
  orphan: {}
tasks:
  handle_lots: {task: "app.tasks:lots", queue: lots, timeout: 1800}
  handle_audit: {task: "app.tasks:audit", queue: audit, timeout: 60}
  handle_mail: {task: "app.tasks:mail", queue: mail}  # local: no broker timeout applies
"""


def test_key_reaches_queues_tasks_and_patterns_per_publisher() -> None:
    result = explain_key(load_example(), "lots.42.mail")
    assert [(r.publisher, r.exchange) for r in result] == [
        ("cart", None),
        ("lots", "ticketing.lots"),
    ]
    assert result[0].reaches == ()
    assert result[1].reaches == (
        Reach("lots.audit", ("lots.#",), "audit_lottery_event", "lots"),
        Reach("lots.mail", ("lots.*.mail",), "send_lottery_mail", "lots"),
    )


def test_key_lists_every_pattern_to_a_queue_and_the_default_exchange() -> None:
    topology = load_example()
    (lots,) = explain_key(topology, "lots.audit", "lots")
    assert lots.reaches == (
        Reach("lots.audit", ("lots.#", "lots.audit"), "audit_lottery_event", "lots"),
    )
    (cart,) = explain_key(topology, "cart", "cart")
    assert cart.reaches == (Reach("cart", ("cart",), "release_cart", "cart"),)
    text = render_explanation("cart", explain_key(topology, "cart"))
    assert "-> queue cart via cart; task release_cart" in text
    assert "published by lots (through exchange ticketing.lots):\n    reaches no queue" in text


def test_lint_finds_every_kind_of_problem() -> None:
    findings = lint(load_topology(LINTY, scanner=None))
    assert {(f.path, f.code) for f in findings} == {
        (("publisher_consumers", "app", "routes", "lots.*"), "shadowed-pattern"),
        (("publisher_consumers", "app", "routes", "lots.audit"), "shadowed-pattern"),
        (("publisher_consumers", "other", "routes", "mail.#"), "duplicate-pattern"),
        (("queues", "orphan"), "unreachable-queue"),
        (("queues", "orphan"), "queue-without-task"),
        (("tasks", "handle_lots", "timeout"), "task-timeout"),
    }
    shadowed = next(f for f in findings if f.path[-1] == "lots.*")
    assert "shadowed by lots.#" in shadowed.message


def test_lint_finds_quorum_queues_that_dead_letter_at_most_once() -> None:
    base = (
        "version: 1\npublisher_consumers: {w: {prefix: w.mq, transport: local}}\n"
        "defaults: {queues: {arguments: {x-queue-type: quorum, x-dead-letter-exchange: '',"
        " x-dead-letter-routing-key: q.dead}}}\n"
        "queues:\n  q: {consumer: w, arguments: ARGS}\n"
        "tasks:\n  t: {task: 'app:t', queue: q}\n"
    )
    at_most = base.replace("ARGS", "{x-dead-letter-strategy: at-most-once}")
    (finding,) = lint(load_topology(at_most, scanner=None))
    assert (finding.path, finding.code) == (
        ("queues", "q", "arguments"),
        "at-most-once-dead-letters",
    )
    assert "x-overflow: reject-publish" in finding.message
    safe = "{x-dead-letter-strategy: at-least-once, x-overflow: reject-publish}"
    assert lint(load_topology(base.replace("ARGS", safe), scanner=None)) == []
    classic = "{x-queue-type: classic}"
    assert lint(load_topology(base.replace("ARGS", classic), scanner=None)) == []


def test_lint_timeout_follows_the_consumer_timeout_and_the_example_is_clean() -> None:
    topology = load_topology(LINTY, scanner=None)
    timeouts = {f.path[1] for f in lint(topology, 60) if f.code == "task-timeout"}
    assert timeouts == {"handle_lots", "handle_audit"}  # "at or above"
    assert lint(load_example()) == []


def test_a_task_a_broker_consumes_for_needs_a_timeout_below_its_connection_s_one() -> None:
    text = LINTY.replace('{url: "amqp://broker/"}', '{url: "amqp://broker/", consumer_timeout: 50}')
    text = text.replace(", timeout: 60}", "}")
    findings = [f for f in lint(load_topology(text, scanner=None)) if "timeout" in f.code]
    assert [(f.path, f.code) for f in findings] == [
        (("tasks", "handle_audit"), "task-without-timeout"),
        (("tasks", "handle_lots", "timeout"), "task-timeout"),
    ]
    assert findings[0].message == (
        "task handle_audit has no timeout: a run longer than the broker's delivery "
        "acknowledgement timeout (consumer_timeout, 50s) is cut short (RabbitMQ closes the "
        "channel and redelivers) and counts as a failed attempt; give it a timeout below 50s"
    )
    assert "(consumer_timeout, 50s)" in findings[1].message
    overridden = lint(load_topology(text, scanner=None), consumer_timeout=3600)
    assert [f.code for f in overridden if "timeout" in f.code] == ["task-without-timeout"]


def test_dead_letter_targets_and_implicit_bindings_are_not_findings() -> None:
    topology = load_topology(
        """\
version: 1
publisher_consumers:
  app: {prefix: app.mq, transport: local, exchange: x, routes: {"a.#": a}}
queues:
  a: {consumer: app, dead_letter_queue: parked}
  parked: {consumer: app}
tasks:
  ta: {task: "m:a", queue: a}
  tp: {task: "m:p", queue: parked}
""",
        scanner=None,
    )
    assert lint(topology) == []


@pytest.mark.parametrize(
    ("wide", "narrow", "covers"),
    [
        ("lots.#", "lots.*", True),
        ("lots.#", "lots", True),
        ("lots.*", "lots.#", False),
        ("#", "a.#.b", True),
        ("*.#", "#.*", True),
        ("*.#", "#", False),
        ("a.*.c", "a.b.c", True),
        ("a.*.c", "a.#.c", False),
    ],
)
def test_pattern_covers(wide: str, narrow: str, covers: bool) -> None:
    assert pattern_covers(wide, narrow) is covers


def test_pattern_covers_agrees_with_brute_force() -> None:
    patterns = [".".join(p) for n in (1, 2, 3) for p in itertools.product("a*#", repeat=n)]
    keys = [""] + [".".join(k) for n in range(1, 6) for k in itertools.product("ab", repeat=n)]
    for wide, narrow in itertools.product(patterns, repeat=2):
        truth = all(topic_matches(wide, k) for k in keys if topic_matches(narrow, k))
        assert pattern_covers(wide, narrow) is truth, (wide, narrow)


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(["explain", *argv], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_cli_explains_a_key() -> None:
    code, out, _ = run_cli(TOPOLOGY, "lots.42.mail", "--publisher", "lots")
    assert code == 0
    expected = explain_key(load_example(), "lots.42.mail", "lots")
    assert out == render_explanation("lots.42.mail", expected)
    assert run_cli(TOPOLOGY, "nowhere")[0] == 1
    code, _, err = run_cli(TOPOLOGY, "lots.#")
    assert code == 2 and "wildcard" in err
    code, _, err = run_cli(TOPOLOGY, "lots.x", "--publisher", "nobody")
    assert code == 2 and "known: cart, lots" in err


def test_cli_lint_names_file_lines(tmp_path: Path) -> None:
    path = tmp_path / "topology.yaml"
    path.write_text(LINTY, encoding="utf-8")
    code, out, err = run_cli(str(path), "--lint", "--no-import")  # app.tasks is not there
    assert code == 1 and err == "6 findings\n"
    lines = out.splitlines()
    assert f"{path}:12:7: shadowed-pattern: pattern lots.* -> lots" in "\n".join(lines)
    assert any(line.startswith(f"{path}:25:3: unreachable-queue:") for line in lines)
    assert any(line.startswith(f"{path}:27:54: task-timeout:") for line in lines)
    assert run_cli(TOPOLOGY, "--lint") == (0, "", "0 findings\n")


def test_cli_lint_falls_back_to_the_yaml_path() -> None:
    loaded = read_topology(TOPOLOGY, io.StringIO())
    assert loaded is not None
    finding = Finding(("tasks", "audit_lottery_event", "timeout"), "task-timeout", "long")
    assert explain_cli.format_finding(loaded, finding) == (
        f"{TOPOLOGY}: /tasks/audit_lottery_event/timeout: task-timeout: long"
    )


def test_cli_needs_a_key_or_lint(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["explain", TOPOLOGY])
    assert exit_.value.code == 2
    assert "give either a ROUTING_KEY or --lint" in capsys.readouterr().err


def test_a_route_repeating_another_consumers_own_name_binding_is_a_duplicate() -> None:
    # Within one publisher_consumer the model already drops `q: q` for a queue it consumes.
    topology = load_topology(
        """\
version: 1
publisher_consumers:
  app: {prefix: app.mq, transport: local, exchange: x}
  web: {prefix: web.mq, transport: local, exchange: x, routes: {mail: mail}}
queues:
  mail: {consumer: app}
tasks:
  tm: {task: "m:m", queue: mail}
""",
        scanner=None,
    )
    (finding,) = lint(topology)
    assert finding.path == ("publisher_consumers", "web", "routes", "mail")
    assert finding.code == "duplicate-pattern" and "app consuming the queue" in finding.message


def test_a_queue_without_task_or_consumer_is_held_for_another_system() -> None:
    topology = load_topology(
        "version: 1\n"
        "publisher_consumers: {web: {prefix: web.mq, transport: local}}\n"
        "queues: {orphan: {}}\n",
        scanner=None,
    )

    text = render_explanation("orphan", explain_key(topology, "orphan"))

    assert "-> queue orphan via orphan; no task, no consumer (the broker holds it" in text
