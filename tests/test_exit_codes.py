"""One table of exit codes for every command: the code, each --help and docs/exit-codes.md."""

from __future__ import annotations

from pathlib import Path

from mqwire.compiler import cli
from mqwire.runtime.errors import ExitCode as MserveExit
from mqwire.runtime.ops.admin import AdminExit
from mqwire.runtime.ops.mqctl import build_parser as mqctl_parser
from mqwire.runtime.worker.mserve import build_parser as mserve_parser
from mqwire.topology.cli_support import (
    MEANINGS,
    ExitCode,
    exit_codes_markdown,
    exit_status_help,
)

DOC = Path(__file__).parent.parent / "docs" / "exit-codes.md"


def test_the_runtime_enums_are_names_for_the_shared_codes() -> None:
    # mserve and mqctl keep their own names (FORCED_STOP reads better in a log than FINDINGS).
    assert {m.name: int(m) for m in MserveExit} == {
        "OK": ExitCode.OK,
        "FORCED_STOP": ExitCode.FINDINGS,
        "CONFIG": ExitCode.INVALID,
        "UNREACHABLE": ExitCode.UNREACHABLE,
        "TOPOLOGY_MISMATCH": ExitCode.TOPOLOGY_MISMATCH,
        "STUCK": ExitCode.STUCK,
        "CRASH_LOOP": ExitCode.CRASH_LOOP,
    }
    assert {m.name: int(m) for m in AdminExit} == {
        "OK": ExitCode.OK,
        "DRIFT": ExitCode.FINDINGS,
        "ERROR": ExitCode.INVALID,
        "UNREACHABLE": ExitCode.UNREACHABLE,
        "MISMATCH": ExitCode.TOPOLOGY_MISMATCH,
        "UNCONFIRMED": ExitCode.UNCONFIRMED,
    }


def test_a_code_above_two_means_one_thing_whichever_command_returns_it() -> None:
    users = {code: [c for c, m in MEANINGS.items() if code in m] for code in ExitCode}
    assert users[ExitCode.UNREACHABLE] == ["mserve", "mqctl"]
    assert users[ExitCode.TOPOLOGY_MISMATCH] == ["mserve", "mqctl"]
    assert users[ExitCode.BLOCKED] == ["mq-compile diff"]
    assert users[ExitCode.STUCK] == ["mserve"]
    assert users[ExitCode.UNCONFIRMED] == ["mqctl"]
    assert users[ExitCode.CRASH_LOOP] == ["mserve"]
    assert all(ExitCode.OK in m and ExitCode.INVALID in m for m in MEANINGS.values())


def test_every_help_shows_its_rows_of_the_table() -> None:
    helps = {
        "mq-compile": cli.build_parser().format_help(),
        "mserve": mserve_parser().format_help(),
        "mqctl": mqctl_parser().format_help(),
    }
    helps |= {f"mq-compile {c.name}": c.epilog for c in cli.COMMANDS if c.name != "compile"}
    assert set(helps) == set(MEANINGS)
    for command, text in helps.items():
        assert exit_status_help(command) in text, command


def test_the_doc_holds_the_table() -> None:
    assert exit_codes_markdown() in DOC.read_text(encoding="utf-8")
