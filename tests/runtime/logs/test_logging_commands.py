"""``--log-config`` and ``--log-format json`` in real ``mserve`` and ``mqctl`` processes.

The worker serves the test topology on the real broker (``mserve_harness``), or fails to reach
a closed port (127.0.0.1:1) with a password in its URL: pika then logs its connection errors,
and mqwire its own line with the password masked. A configuration file decides alone where
each logger's records go and from which level; without one, each command keeps its defaults.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pika  # type: ignore[import-untyped]
import pytest
import topology_setup as wiring
from mserve_harness import (
    CHECKED_SCHEMA,
    HERE,
    Mserve,
    all_done,
    publish_ids,
    topology,
    wait_until,
)

from mqwire.runtime import Registry
from mqwire.runtime.errors import ExitCode
from mqwire.runtime.ops.mqctl import main as mqctl_main
from mqwire.runtime.worker.mserve import main as mserve_main

#: The password of the closed-port URL, as written (percent-encoded) and as pika decodes it.
PASSWORD, DECODED = "s3cr%40t", "s3cr@t"
CLOSED_URL = f"amqp://bob:{PASSWORD}@127.0.0.1:1/%2F"
MASKED = "amqp://bob:***@127.0.0.1:1/%2F"
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
TEXT = "%(levelname)s %(name)s %(message)s"
#: The first line of a record written in ``TEXT`` (a traceback's lines follow it).
RECORD = re.compile(r"(DEBUG|INFO|WARNING|ERROR|CRITICAL) (\S+) ")


def json_lines(text: str) -> list[dict[str, object]]:
    """Every line parsed (each must be one JSON object with the four fields)."""
    entries = [json.loads(line) for line in text.splitlines()]
    for entry in entries:
        assert {"time", "level", "logger", "message"} <= set(entry), entry
        assert ISO_UTC.fullmatch(str(entry["time"])), entry
    return entries


def records(text: str) -> list[tuple[str, str]]:
    """``(level, logger)`` of each record in a ``TEXT`` log."""
    found = (RECORD.match(line) for line in text.splitlines())
    return [(m[1], m[2]) for m in found if m]


def pika_levels(text: str) -> set[str]:
    """The levels of pika's records in a ``TEXT`` log."""
    return {level for level, name in records(text) if name.startswith("pika.")}


def dict_config(
    path: Path, loggers: dict[str, tuple[str, str]], files: dict[str, tuple[Path, str]]
) -> Path:
    """A dictConfig file: ``loggers`` name -> (level, handler), ``files`` handler ->
    (file, ``"json"`` or ``"text"``); as JSON or YAML by ``path``'s suffix."""
    config = {
        "version": 1,
        "formatters": {
            "json": {"()": "mqwire.runtime.logs.JsonFormatter"},
            "text": {"format": TEXT},
        },
        "handlers": {
            name: {"class": "logging.FileHandler", "filename": str(f), "formatter": kind}
            for name, (f, kind) in files.items()
        },
        "loggers": {
            name: {"level": level, "handlers": [handler], "propagate": False}
            for name, (level, handler) in loggers.items()
        },
    }
    if path.suffix == ".json":
        path.write_text(json.dumps(config, indent=2))
    else:
        import yaml

        path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def closed_ini(tmp_path: Path) -> Path:
    """The test topology compiled; run with ``CLOSED_URL`` it reaches no broker."""
    folder = tmp_path / "closed"
    folder.mkdir()
    (folder / "checked.json").write_text(CHECKED_SCHEMA)
    return wiring.compile_into(folder, topology())


def unreachable(mserve: Callable[..., Mserve], ini: Path, *args: str) -> Mserve:
    """mserve on the closed port, given up at once: it exits 3 after one attempt."""
    worker = mserve(ini, CLOSED_URL, "--max-unreachable", "0", *args, wait=False)
    assert worker.wait() == ExitCode.UNREACHABLE, worker.output()
    return worker


def mqctl(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AMQP_URL": url, "PYTHONPATH": str(HERE)}
    return subprocess.run(
        [sys.executable, "-m", "mqwire.runtime.ops.mqctl", *args],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


# -- mserve on the broker ------------------------------------------------------------------------


@pytest.mark.broker
def test_json_lines_carry_each_messages_outcome_as_fields(
    setup: tuple[Path, Registry], start: Callable[..., Mserve], tmp_path: Path
) -> None:
    worker = start("--log-format", "json")
    wanted = publish_ids(setup[1], "fast", range(3))
    wait_until(all_done(tmp_path / "records.txt", wanted), what="three records")
    worker.signal(signal.SIGTERM)
    assert worker.wait() == ExitCode.OK

    entries = json_lines(worker.output())
    acks = [e for e in entries if e.get("result") == "ack"]
    assert len(acks) == 3
    for ack in acks:
        assert (ack["level"], ack["logger"]) == ("INFO", "mqwire.worker")
        assert (ack["queue"], ack["task"], ack["attempt"], ack["reason"]) == (
            "fast", "record", 1, None,
        )  # fmt: skip
        assert isinstance(ack["message_id"], str) and len(ack["message_id"]) == 32
        assert isinstance(ack["duration"], float) and ack["duration"] >= 0
        assert str(ack["message"]).startswith(
            f"ack queue=fast task=record message_id={ack['message_id']} "
        )
    assert any(e["logger"] == "mqwire.fastpath" for e in entries)


@pytest.mark.broker
def test_a_config_file_alone_decides_where_mqwire_and_pika_log_and_from_which_level(
    setup: tuple[Path, Registry], start: Callable[..., Mserve], tmp_path: Path
) -> None:
    mqwire_log, pika_log = tmp_path / "mqwire.jsonl", tmp_path / "pika.log"
    config = dict_config(
        tmp_path / "logging.yaml",
        {"mqwire": ("INFO", "mqwire_file"), "pika": ("DEBUG", "pika_file")},
        {"mqwire_file": (mqwire_log, "json"), "pika_file": (pika_log, "text")},
    )
    worker = start(
        "--log-config", str(config), wait=False
    )  # its log, with the port, is in the file
    wanted = publish_ids(setup[1], "coro", range(2))
    wait_until(all_done(tmp_path / "records.txt", wanted), what="two records")
    worker.signal(signal.SIGTERM)
    assert worker.wait() == ExitCode.OK

    entries = json_lines(mqwire_log.read_text())
    assert {str(e["logger"]).split(".")[0] for e in entries} == {"mqwire"}
    acks = [e for e in entries if e.get("result") == "ack"]
    assert [(e["queue"], e["task"]) for e in acks] == [("coro", "record_async")] * 2
    assert any(str(e["message"]).startswith("exiting with 0") for e in entries)
    pika_records = records(pika_log.read_text())
    assert {name.split(".")[0] for _, name in pika_records} == {"pika"}
    # mserve alone caps pika at WARNING (its DEBUG shows bodies); the file said DEBUG
    assert "DEBUG" in {level for level, _ in pika_records}
    assert worker.output() == "", "no handler of mserve's own beside the file's"


# -- mserve on a closed port ------------------------------------------------------------------


@pytest.mark.parametrize("pika_level", ["DEBUG", "ERROR", "CRITICAL"])
def test_pikas_connection_errors_appear_at_the_level_the_config_sets(
    closed_ini: Path, tmp_path: Path, pika_level: str, mserve: Callable[..., Mserve]
) -> None:
    log = tmp_path / "all.log"
    config = dict_config(
        tmp_path / "logging.json",
        {"mqwire": ("INFO", "file"), "pika": (pika_level, "file")},
        {"file": (log, "text")},
    )
    unreachable(mserve, closed_ini, "--log-config", str(config))

    text = log.read_text()
    levels = pika_levels(text)
    refused = "\nERROR pika.adapters.utils.io_services_utils Socket failed to connect: "
    if pika_level == "CRITICAL":
        assert levels == set()
    else:  # pika's own record, at pika's own level, as pika wrote it
        assert refused in text
        assert ("DEBUG" in levels) == (pika_level == "DEBUG")
    assert (
        f"\nERROR mqwire.worker work: giving up, broker unreachable: connecting to {MASKED}: "
        "ConnectionRefusedError: [Errno 111] Connection refused\n"
    ) in text
    assert PASSWORD not in text and DECODED not in text


def test_json_lines_without_a_config_keep_the_defaults_and_never_show_the_password(
    closed_ini: Path, mserve: Callable[..., Mserve]
) -> None:
    worker = unreachable(mserve, closed_ini, "--log-format", "json", "--log-level", "DEBUG")

    output = worker.output()
    assert PASSWORD not in output and DECODED not in output
    entries = json_lines(output)
    (given_up,) = [e for e in entries if "giving up" in str(e["message"])]
    assert (given_up["level"], given_up["logger"]) == ("ERROR", "mqwire.worker")
    assert f"connecting to {MASKED}: ConnectionRefusedError" in str(given_up["message"])
    from_pika = {e["level"] for e in entries if str(e["logger"]).startswith("pika")}
    assert from_pika == {"ERROR"}, "pika kept at WARNING by default, even at --log-level DEBUG"


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        (
            "logging.yaml",
            "version: 1\nroot: {level: INFO, handlers: [console]}\n",
            "logging.yaml:2:32: error: unknown handler 'console'",
        ),
        (
            "logging.yaml",
            "version: 1\nhandlers:\n  file: {class: logging.FileHandler, filename: /nope/w.log}\n",
            "logging.yaml:3:3: error: cannot set up handler 'file': FileNotFoundError: [Errno 2] "
            "No such file or directory: '/nope/w.log'",
        ),
        (
            "logging.ini",
            "[loggers]\nkeys=root\n[handlers]\nkeys=h\n[formatters]\nkeys=\n[logger_root]\n"
            "handlers=h\n[handler_h]\nclass=nowhere.Handler\n",
            "logging.ini: error: logging could not apply it: ModuleNotFoundError: No module "
            "named 'nowhere'",
        ),
    ],
)
def test_a_bad_config_file_exits_with_the_config_code_naming_the_place(
    closed_ini: Path, tmp_path: Path, name: str, text: str, expected: str,
    mserve: Callable[..., Mserve],
) -> None:  # fmt: skip
    (tmp_path / name).write_text(text)
    worker = mserve(closed_ini, CLOSED_URL, "--log-config", str(tmp_path / name), wait=False)

    assert worker.wait() == ExitCode.CONFIG
    assert worker.output() == f"mserve: error: {tmp_path}/{expected}\n"
    done = mqctl(CLOSED_URL, "--log-config", str(tmp_path / name), str(closed_ini), "queues")
    assert (done.returncode, done.stderr) == (
        ExitCode.CONFIG,
        f"mqctl: error: {tmp_path}/{expected}\n",
    )


@pytest.mark.parametrize("command", [mserve_main, mqctl_main])
def test_a_config_file_beside_a_level_or_format_option_is_a_usage_error(
    command: Callable[[list[str]], int], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as raised:
        command(["--log-config", "logging.yaml", "--log-format", "json", "compiled.ini", "queues"])

    assert raised.value.code == 2
    assert "--log-config sets levels and format itself: leave out --log-format" in (
        capsys.readouterr().err
    )


# -- mqctl -----------------------------------------------------------------------------------


def test_mqctl_json_lines_go_to_stderr_without_pika_or_the_password(closed_ini: Path) -> None:
    done = mqctl(
        CLOSED_URL, "--log-format", "json", str(closed_ini), "publish", "work", "fast", '{"id": 1}'
    )

    assert done.returncode == ExitCode.UNREACHABLE and done.stdout == ""
    *logged, said = done.stderr.splitlines()
    assert said.startswith(f"mqctl: error: could not connect to {MASKED}: ")
    entries = json_lines("\n".join(logged))
    assert [(e["level"], e["logger"]) for e in entries] == [("WARNING", "mqwire.publisher")]
    assert f"could not connect to {MASKED}" in str(entries[0]["message"])
    assert PASSWORD not in done.stderr and DECODED not in done.stderr


def test_mqctl_logs_pikas_connection_errors_at_the_level_the_config_sets(
    closed_ini: Path, tmp_path: Path
) -> None:
    log = tmp_path / "mqctl.log"
    config = dict_config(tmp_path / "logging.yml", {"pika": ("ERROR", "f")}, {"f": (log, "text")})
    done = mqctl(CLOSED_URL, "--log-config", str(config), str(closed_ini), "queues")

    assert done.returncode == ExitCode.UNREACHABLE
    text = log.read_text()
    assert "ERROR pika.adapters.utils.io_services_utils Socket failed to connect: " in text
    assert pika_levels(text) == {"ERROR"}


@pytest.mark.broker
def test_mqctl_on_the_broker_logs_through_the_config_file(
    setup: tuple[Path, Registry], fresh_vhost_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "mqctl.jsonl"
    config = dict_config(tmp_path / "logging.yaml", {"mqwire": ("INFO", "f")}, {"f": (log, "json")})
    done = mqctl(
        fresh_vhost_url, "--log-config", str(config), str(setup[0]), "publish", "work", "fast",
        '{"id": 5}',
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    entries = json_lines(log.read_text())
    assert any(
        e["logger"] == "mqwire.publisher" and " connected to amqp://guest:***@" in str(e["message"])
        for e in entries
    )
    with pika.BlockingConnection(pika.URLParameters(fresh_vhost_url)) as connection:
        _, props, body = connection.channel().basic_get("fast", auto_ack=True)
    assert json.loads(body) == {"id": 5} and props.message_id == done.stdout.strip()
