"""``mserve``'s command line: what it serves, and how it refuses bad input before connecting."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import topology_setup as wiring
from cli_examples import TICKETING, check_version_and_prog, help_examples, ticketing

from mqwire.runtime import ConfigurationError, Registry, load
from mqwire.runtime._fastpath import switch
from mqwire.runtime.errors import ExitCode
from mqwire.runtime.worker.mserve import build_parser, main, select_consumers, timeout_warnings

TOPOLOGY = """\
version: 1
connections:
  main: {url: "amqp://guest:${MQ_PASSWORD}@127.0.0.1:1/%2F"}
publisher_consumers:
  orders: {prefix: o.mq, transport: amqp, connection: main}
  mails: {prefix: m.mq, transport: amqp, connection: main}
  silent: {prefix: s.mq, transport: amqp, connection: main}
  dev: {prefix: d.mq, transport: local}
queues:
  orders: {consumer: orders}
  orders.late: {consumer: orders}
  mails: {consumer: mails}
  silent: {consumer: silent}
  dev: {consumer: dev}
tasks:
  orders: {task: "contract_app:record", queue: orders}
  mails: {task: "contract_app:record", queue: mails}
  dev: {task: "contract_app:record", queue: dev}
"""


@pytest.fixture(autouse=True)
def password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MQ_PASSWORD", "s3cret")


@pytest.fixture(scope="module")
def ini(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return wiring.compile_into(tmp_path_factory.mktemp("cli"), TOPOLOGY)


@pytest.fixture
def registry(ini: Path) -> Iterator[Registry]:
    with load(ini, environ={"MQ_PASSWORD": "s3cret"}) as registry:
        yield registry


def served(registry: Registry, names: list[str], queues: list[str]) -> dict[str, list[str]]:
    specs = select_consumers(registry, names, queues)
    return {spec.name: [q.name for q in spec.queues] for spec in specs}


def test_by_default_every_amqp_publisher_consumer_with_tasks_is_served(
    registry: Registry,
) -> None:
    assert served(registry, [], []) == {"mails": ["mails"], "orders": ["orders", "orders.late"]}


def test_names_and_queues_narrow_what_is_served(registry: Registry) -> None:
    assert served(registry, ["orders"], []) == {"orders": ["orders", "orders.late"]}
    assert served(registry, [], ["orders.late"]) == {"orders": ["orders.late"]}


def test_an_unknown_name_lists_the_known_ones(registry: Registry) -> None:
    with pytest.raises(ConfigurationError, match="unknown publisher_consumer 'order'; known: "):
        select_consumers(registry, ["order"], [])


def test_a_local_publisher_consumer_cannot_be_served(registry: Registry) -> None:
    with pytest.raises(ConfigurationError, match="'dev' uses the local transport"):
        select_consumers(registry, ["dev"], [])


def test_a_queue_nobody_serves_is_refused_naming_the_served_ones(registry: Registry) -> None:
    with pytest.raises(ConfigurationError) as raised:
        select_consumers(registry, ["mails"], ["orders"])

    assert str(raised.value) == "no served publisher_consumer consumes 'orders'; queues: 'mails'"


def test_help_shows_runnable_examples_and_the_exit_codes() -> None:
    text = build_parser().format_help()

    assert "mserve compiled.ini lots" in text
    assert "3 broker unreachable" in text and "4 topology mismatch" in text
    assert "--processes N|auto" in text and "8 --processes:" in text
    assert "--group-child" not in text and "--status-socket" not in text  # the child's own


def test_processes_auto_is_one_per_cpu_and_the_default_is_one_process(ini: Path) -> None:
    assert build_parser().parse_args([str(ini), "--processes", "auto"]).processes == (
        os.cpu_count() or 1
    )
    assert build_parser().parse_args([str(ini)]).processes == 1


@pytest.mark.parametrize(
    "args",
    [
        ["--http", "port"],
        ["--concurrency", "0"],
        ["--log-level", "LOUD"],
        ["--processes", "0"],
        ["--processes", "many"],
        ["--restart-window", "0"],
    ],
)
def test_bad_options_are_usage_errors(
    ini: Path, args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as raised:
        main([str(ini), *args])

    assert raised.value.code == 2
    assert "usage: mserve" in capsys.readouterr().err


def test_a_missing_ini_exits_with_the_config_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(tmp_path / "nope.ini")]) == ExitCode.CONFIG
    assert "mserve: error: cannot read" in capsys.readouterr().err


def test_an_unknown_name_exits_with_the_config_code_without_connecting(
    ini: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(ini), "nobody"]) == ExitCode.CONFIG
    err = capsys.readouterr().err
    assert "unknown publisher_consumer 'nobody'" in err and "s3cret" not in err


def test_help_examples_parse_and_name_the_ticketing_example() -> None:
    parser = build_parser()
    topology = ticketing()
    examples = help_examples(parser)
    assert examples
    for argv in examples:
        args = parser.parse_args(argv)
        assert (TICKETING / args.config).is_file(), argv
        assert set(args.names) <= set(topology.publisher_consumers), argv
        assert set(args.queue) <= set(topology.queues), argv


def test_version_and_the_prog_it_runs_under(capsys: pytest.CaptureFixture[str]) -> None:
    check_version_and_prog(main, "mserve", capsys)


@pytest.fixture
def fresh_fastpath_decision(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """mserve decides once per process: forget the decision, and the variable, after."""
    monkeypatch.setenv(switch.ENV, "auto")  # restored after the test, whatever mserve sets
    switch.for_process.cache_clear()
    yield
    switch.for_process.cache_clear()


def test_a_bad_fastpath_value_exits_with_the_config_code(
    ini: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fresh_fastpath_decision: None,
) -> None:
    monkeypatch.setenv(switch.ENV, "fast")

    assert main([str(ini)]) == ExitCode.CONFIG
    err = capsys.readouterr().err
    assert "MQWIRE_FASTPATH='fast' is not valid: use one of auto, on, off" in err


def test_the_fastpath_option_overrides_the_environment_and_is_logged_at_start(
    ini: Path, caplog: pytest.LogCaptureFixture, fresh_fastpath_decision: None
) -> None:
    caplog.set_level(logging.INFO, logger="mqwire.fastpath")
    assert main(["--fastpath", "off", str(ini), "nobody"]) == ExitCode.CONFIG

    assert os.environ[switch.ENV] == "off"  # so every connection of the process sees it
    lines = [r.getMessage() for r in caplog.records if r.name == "mqwire.fastpath"]
    assert lines == [
        "fastpath: reads=off writes=off shared_ioloop=off "
        f"(pika {switch.decide({}).pika_version}, MQWIRE_FASTPATH=off)"
    ]


def test_served_tasks_without_a_timeout_below_the_consumer_timeout_are_named(
    tmp_path: Path, registry: Registry
) -> None:
    specs = select_consumers(registry, [], [])
    assert [w.split(": task ")[1].split(" ")[0] for w in timeout_warnings(registry, specs)] == [
        "mails", "orders",
    ]  # fmt: skip
    stated = TOPOLOGY.replace('%2F"}', '%2F", consumer_timeout: 60}')
    stated = stated.replace("queue: orders}", "queue: orders, timeout: 60}")
    stated = stated.replace("queue: mails}", "queue: mails, timeout: 59}")
    with load(wiring.compile_into(tmp_path, stated), environ={"MQ_PASSWORD": "x"}) as other:
        (warning,) = timeout_warnings(other, select_consumers(other, [], []))
    assert warning == (
        "orders: task orders may run 60s, at or above the broker's delivery acknowledgement "
        "timeout (consumer_timeout, 60s): RabbitMQ closes the channel and redelivers; lower the "
        "timeout or raise consumer_timeout"
    )


def test_mserve_warns_at_start_up_naming_each_task_with_no_timeout(
    ini: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="mqwire.mserve"):
        assert main([str(ini), "mails", "--max-unreachable", "0"]) == ExitCode.UNREACHABLE
    warnings = [r.getMessage() for r in caplog.records if "has no timeout" in r.getMessage()]
    assert warnings == [
        "mails: task mails has no timeout: a run longer than the broker's delivery "
        "acknowledgement timeout (consumer_timeout, 1800s) is cut short (RabbitMQ closes the "
        "channel and redelivers) and counts as a failed attempt; give it a timeout below 1800s"
    ]


def test_a_group_with_http_names_the_prometheus_extra_when_it_is_missing(
    ini: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # as if not installed

    assert main([str(ini), "--processes", "2", "--http", "0"]) == ExitCode.CONFIG
    err = capsys.readouterr().err
    assert "--processes above 1 with --http needs prometheus_client" in err
    assert "pip install 'mqwire[prometheus]'" in err
