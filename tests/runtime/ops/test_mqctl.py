"""``mqctl``: the pure helpers, and every command against the real broker in a fresh vhost.

The replay test runs a real ``mserve`` (``mserve_harness``) on a task that fails while a flag
file exists: messages are dead-lettered, the flag is removed, ``mqctl replay`` moves them back
and the worker processes every one of them.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pika  # type: ignore[import-untyped]
import pytest
import topology_setup as wiring
from mserve_harness import Mserve, queue_state, records, wait_until

from mqwire.runtime import Registry, load
from mqwire.runtime.dispatch import ATTEMPT_HEADER, REASON_HEADER
from mqwire.runtime.ops import admin
from mqwire.runtime.ops.mqctl import main
from mqwire.runtime.ops.verify import Finding
from mqwire.topology import delays

TOPOLOGY = """\
version: 1
connections:
  main: {url: "${AMQP_URL}"}
publisher_consumers:
  work:
    prefix: work.mq
    transport: amqp
    connection: main
    exchange: work.events
    routes:
      "jobs.#": jobs
      other: other
queues:
  jobs: {consumer: work, prefetch: 50, retry: {delays: [0.05]}}
  other: {consumer: work, arguments: {x-max-priority: 5}}
tasks:
  flagged: {task: "mqctl_app:flagged", queue: jobs}
  other: {task: "mqctl_app:flagged", queue: other}
delays: true
"""

APP = '''\
import os


def flagged(context, request):
    """Fails while the flag file exists; records each success like the mserve test tasks."""
    if os.path.exists(os.environ["MQCTL_TEST_FLAG"]):
        raise RuntimeError("flag is up")
    line = f"done {request.queue} {request.params.get('id')} {os.getpid()}\\n"
    fd = os.open(os.environ["MSERVE_TEST_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
'''

ALL_QUEUES = ["jobs", "jobs.dead", "jobs.retry.50ms", "other", "other.dead"]
#: The delay ladder's exchanges and queues, in every plan.
LADDER = 2 * delays.LEVELS + 1
#: Its bindings: two per level, and one on its delivery exchange per binding and per queue.
LADDER_BINDINGS = 2 * delays.LEVELS + 3 + 2


# -- pure helpers ------------------------------------------------------------------------------


def test_format_table_aligns_and_shows_missing_values() -> None:
    text = admin.format_table(["name", "n"], [("a", 1), ("long-name", None), ("b", 100)])
    assert text.splitlines() == [
        "name         n",
        "a            1",
        "long-name  n/a",
        "b          100",
    ]


def test_read_dead_letter_takes_the_failure_headers() -> None:
    properties = {
        "message_id": "m1",
        "headers": {
            REASON_HEADER: "ValueError: bad",
            "x-mqwire-exception": "ValueError",
            "x-mqwire-task": "t",
            "x-mqwire-queue": "q",
            "x-mqwire-attempts": 3,
            "x-mqwire-failed-at": 0,
        },
    }
    letter = admin.read_dead_letter(properties, b'{"id": 1}' + b"x" * 100, preview=10)
    assert (letter.message_id, letter.reason, letter.exception) == (
        "m1",
        "ValueError: bad",
        "ValueError",
    )
    assert (letter.attempts, letter.task, letter.queue) == (3, "t", "q")
    assert letter.failed_at == "1970-01-01T00:00:00Z"
    assert letter.body == '{"id": 1}…'
    assert admin.read_dead_letter({}, b"").attempts is None


def test_replay_properties_strip_failure_headers_and_reset_the_attempt() -> None:
    properties = {
        "message_id": "m1",
        "content_type": "application/json",
        "headers": {REASON_HEADER: "x", "x-mqwire-attempts": 3, ATTEMPT_HEADER: 3, "mine": "kept"},
    }
    assert admin.replay_properties(properties) == {
        "message_id": "m1",
        "content_type": "application/json",
        "headers": {ATTEMPT_HEADER: 1, "mine": "kept"},
    }


def test_selection() -> None:
    mine = {"message_id": "a", "headers": {"x-mqwire-queue": "q"}}
    assert admin.selected(mine, "q", [], every=True)
    assert admin.selected(mine, "q", ["a"], every=False)
    assert admin.selected({"message_id": "a"}, "q", ["a"], every=False)
    assert not admin.selected(mine, "q", ["b"], every=False)
    assert not admin.selected(mine, "other", [], every=True)  # a shared dead-letter queue
    for ids, replay_all in (([], False), (["a"], True)):
        with pytest.raises(admin.ConfigurationError, match="--all or"):
            admin.check_selection(ids, replay_all)


def test_verify_report_lists_drift_first_and_what_is_not_checked() -> None:
    findings = [
        Finding("queue", "a", "ok"),
        Finding("queue", "b", "missing"),
        Finding("exchange", "e", "differs", "inequivalent arg 'type'"),
    ]
    lines = admin.verify_report(findings, bindings=2).splitlines()
    assert lines[1].split()[:3] == ["DIFFERS", "exchange", "e"]
    assert lines[2].split() == ["MISSING", "queue", "b"]
    assert "2 of 3 declarations differ" in lines[4]
    assert "not checked: 2 binding(s)" in lines[5]
    assert "all 1 exchanges and queues match" in admin.verify_report(findings[:1], 0)


# -- against the broker ------------------------------------------------------------------------


@pytest.fixture
def ini(tmp_path: Path, fresh_vhost_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The test topology compiled and declared in a fresh vhost; its task module importable."""
    (tmp_path / "mqctl_app.py").write_text(APP)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))  # for mserve, through its environment
    monkeypatch.setenv("AMQP_URL", fresh_vhost_url)
    monkeypatch.setenv("MQCTL_TEST_FLAG", str(tmp_path / "flag"))
    path = wiring.compile_into(tmp_path, TOPOLOGY)
    registry = load(path)
    wiring.declare(fresh_vhost_url, registry)
    registry.close()
    yield path


@pytest.fixture
def registry(ini: Path) -> Iterator[Registry]:
    with load(ini) as registry:
        yield registry


def mqctl(capsys: pytest.CaptureFixture[str], *args: str, stdin: str = "") -> tuple[int, str, str]:
    capsys.readouterr()
    old = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        code = main([*args])
    finally:
        sys.stdin = old
    out, err = capsys.readouterr()
    return code, out, err


def counts(url: str) -> dict[str, int]:
    return {name: ready for name, (ready, _) in queue_state(url, ALL_QUEUES).items()}


@pytest.mark.broker
def test_queues_lists_every_queue_with_counts(
    ini: Path, registry: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    registry.publisher("work").publish({"id": 1}, routing_key="jobs.a")
    registry.publisher("work").publish({"id": 2}, routing_key="jobs.a", delay=timedelta(hours=1))
    code, out, _ = mqctl(capsys, str(ini), "queues", "--no-management")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["queue", "kind", "ready", "unacked", "consumers"]
    rows = [line.split() for line in lines[1:] if not line.startswith("(")]
    assert [row for row in rows if row[1] != "delay"] == [
        ["jobs", "queue", "1", "n/a", "0"],
        ["jobs.dead", "dead", "0", "n/a", "0"],
        ["jobs.retry.50ms", "retry", "0", "n/a", "0"],
        ["other", "queue", "0", "n/a", "0"],
        ["other.dead", "dead", "0", "n/a", "0"],
    ]
    assert [row[1] for row in rows[-delays.LEVELS :]] == ["delay"] * delays.LEVELS  # listed last
    ladder = {row[0]: row[2] for row in rows if row[1] == "delay"}  # 3600 s = 2**11 + ...
    assert len(ladder) == delays.LEVELS and ladder.pop(delays.level_queue(11)) == "1"
    assert set(ladder.values()) == {"0"}
    assert "guest" not in out
    code, out, _ = mqctl(capsys, str(ini), "queues", "--json", "--no-management")
    rows = json.loads(out)
    assert rows[0] == {
        "name": "jobs",
        "kind": "queue",
        "exists": True,
        "ready": 1,
        "unacked": None,
        "consumers": 0,
    }


@pytest.mark.broker
def test_publish_from_argument_file_and_stdin(
    ini: Path, fresh_vhost_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = mqctl(capsys, str(ini), "publish", "work", "jobs.x", '{"id": 7}')
    assert code == 0 and len(out.strip()) == 32
    (tmp_path / "body.json").write_text('{"id": 8}')
    assert (
        mqctl(capsys, str(ini), "publish", "work", "other", "--file", str(tmp_path / "body.json"))[
            0
        ]
        == 0
    )
    done = subprocess.run(
        [str(Path(sys.executable).parent / "mqctl"), str(ini), "publish", "work", "jobs.y", "-"],
        input='{"id": 9}',
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert counts(fresh_vhost_url)["jobs"] == 2 and counts(fresh_vhost_url)["other"] == 1
    with pika.BlockingConnection(pika.URLParameters(fresh_vhost_url)) as connection:
        _, props, body = connection.channel().basic_get("jobs", auto_ack=True)
    assert json.loads(body) == {"id": 7} and props.content_type == "application/json"
    assert props.message_id == out.strip()


@pytest.mark.broker
def test_publish_errors_are_one_line(ini: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = mqctl(capsys, str(ini), "publish", "work", "nowhere", '{"id": 1}')
    assert code == 2 and err.startswith("mqctl: error: ") and err.count("\n") == 1
    assert "NO_ROUTE" in err or "unroutable" in err.lower()
    code, _, err = mqctl(capsys, str(ini), "publish", "work", "jobs.a", "{not json")
    assert code == 2 and "not JSON" in err
    code, _, err = mqctl(capsys, str(ini), "publish", "nobody", "jobs.a", "{}")
    assert code == 2 and "unknown publisher 'nobody'" in err
    code, _, err = mqctl(capsys, str(ini), "publish", "work", "jobs.a", "{}", "--delay", "-5")
    assert code == 2 and "0 or more seconds" in err and err.count("\n") == 1


@pytest.mark.broker
def test_publish_with_a_delay_waits_on_the_ladder(
    ini: Path, fresh_vhost_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = mqctl(capsys, str(ini), "publish", "work", "jobs.x", "{}", "--delay", "2h")
    assert code == 0 and len(out.strip()) == 32
    code, _, _ = mqctl(capsys, str(ini), "publish", "work", "jobs.x", "{}", "--delay", "90")
    assert code == 0
    levels = [delays.level_queue(12), delays.level_queue(6)]  # 7200 = 2**12 + ..., 90 = 64 + ..
    assert wiring.counts(fresh_vhost_url, [*levels, "jobs"]) == {
        **dict.fromkeys(levels, 1),
        "jobs": 0,
    }
    with pytest.raises(SystemExit):
        mqctl(capsys, str(ini), "publish", "work", "jobs.x", "{}", "--delay", "soon")
    assert "not a delay: 'soon'" in capsys.readouterr().err


@pytest.mark.broker
def test_purge_and_delete_ask_unless_forced(
    ini: Path, registry: Registry, fresh_vhost_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    publisher = registry.publisher("work")
    for n in range(3):
        publisher.publish({"id": n}, routing_key="other")
    code, _, err = mqctl(capsys, str(ini), "purge", "other", stdin="no\n")
    assert code == 2 and "not confirmed" in err and counts(fresh_vhost_url)["other"] == 3
    code, out, _ = mqctl(capsys, str(ini), "purge", "other", stdin="other\n")
    assert code == 0 and "3 message(s)" in out and counts(fresh_vhost_url)["other"] == 0
    code, _, err = mqctl(capsys, str(ini), "delete", "unknown", "--force")
    assert code == 2 and "not in the topology" in err
    publisher.publish({"id": 9}, routing_key="other")
    code, out, _ = mqctl(capsys, str(ini), "delete", "other", "--force")
    assert code == 0 and "1 message(s)" in out
    with pytest.raises(pika.exceptions.ChannelClosedByBroker):
        queue_state(fresh_vhost_url, ["other"])
    with pika.BlockingConnection(pika.URLParameters(fresh_vhost_url)) as connection:
        connection.channel().queue_declare("stray")
    assert mqctl(capsys, str(ini), "delete", "stray", "--force", "--any")[0] == 0


def dead_letter(start: Callable[[], Mserve], registry: Registry, url: str, n: int) -> list[str]:
    """Publish ``n`` messages to ``jobs`` while the flag is up; their ids once all are dead."""
    publisher = registry.publisher("work")
    with publisher.batch() as batch:
        for i in range(n):
            publisher.publish({"id": i}, routing_key="jobs.x")
    worker = start()
    wait_until(lambda: counts(url)["jobs.dead"] == n, timeout=60, what=f"{n} dead letters")
    worker.stop()
    return batch.message_ids


@pytest.fixture
def start(ini: Path, fresh_vhost_url: str, mserve: Callable[..., Mserve]) -> Callable[[], Mserve]:
    return lambda: mserve(ini, fresh_vhost_url)


@pytest.mark.broker
def test_dead_letters_shows_reasons_and_leaves_them(
    ini: Path,
    registry: Registry,
    fresh_vhost_url: str,
    tmp_path: Path,
    start: Callable[[], Mserve],
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "flag").touch()
    ids = dead_letter(start, registry, fresh_vhost_url, 3)
    code, out, _ = mqctl(capsys, str(ini), "dead-letters", "jobs", "--json")
    assert code == 0
    letters = json.loads(out)
    order = [d["message_id"] for d in letters]  # the order the worker dead-lettered them in
    assert sorted(order) == sorted(ids)
    assert letters[0]["reason"] == "RuntimeError: flag is up"
    assert (letters[0]["exception"], letters[0]["attempts"]) == ("RuntimeError", 2)
    assert (letters[0]["task"], letters[0]["queue"]) == ("flagged", "jobs")
    code, out, _ = mqctl(capsys, str(ini), "dead-letters", "jobs.dead", "--limit", "2")
    assert code == 0 and "2 message(s) shown" in out
    assert order[0] in out and order[2] not in out
    assert counts(fresh_vhost_url)["jobs.dead"] == 3
    code, out, _ = mqctl(capsys, str(ini), "dead-letters", "jobs", "--json")
    assert [d["message_id"] for d in json.loads(out)] == order  # order kept after the peek


@pytest.mark.broker
def test_replay_moves_every_dead_letter_back_and_the_worker_runs_them(
    ini: Path,
    registry: Registry,
    fresh_vhost_url: str,
    tmp_path: Path,
    start: Callable[[], Mserve],
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "flag").touch()
    dead_letter(start, registry, fresh_vhost_url, 20)
    (tmp_path / "flag").unlink()
    code, out, _ = mqctl(capsys, str(ini), "dead-letters", "jobs", "--json")
    ids = [d["message_id"] for d in json.loads(out)]  # in the dead-letter queue's order
    code, out, _ = mqctl(capsys, str(ini), "replay", "jobs", "--id", ids[3], "--id", ids[7])
    assert code == 0 and "replayed 2 message(s)" in out
    assert counts(fresh_vhost_url)["jobs"] == 2 and counts(fresh_vhost_url)["jobs.dead"] == 18
    code, out, _ = mqctl(capsys, str(ini), "dead-letters", "jobs", "--json")
    assert [d["message_id"] for d in json.loads(out)] == [
        i for i in ids if i not in (ids[3], ids[7])
    ]
    code, out, _ = mqctl(capsys, str(ini), "replay", "jobs", "--all")
    assert code == 0 and "replayed 18 message(s)" in out
    worker = start()
    records_file = tmp_path / "records.txt"
    wait_until(lambda: len(records(records_file)) >= 20, timeout=60, what="20 processed")
    assert sorted(records(records_file), key=int) == [str(n) for n in range(20)]
    worker.wait_idle(timeout=30)
    assert counts(fresh_vhost_url)["jobs"] == counts(fresh_vhost_url)["jobs.dead"] == 0
    assert worker.stop() == 0
    code, _, err = mqctl(capsys, str(ini), "replay", "jobs", "--id", "nope")
    assert code == 2 and "not found" in err


@pytest.mark.broker
def test_verify_reports_drift(
    ini: Path, fresh_vhost_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = mqctl(capsys, str(ini), "verify", "--no-management")
    assert code == 0, out
    assert f"all {6 + LADDER} exchanges and queues match" in out
    assert f"not checked: {3 + LADDER_BINDINGS} binding(s)" in out
    with pika.BlockingConnection(pika.URLParameters(fresh_vhost_url)) as connection:
        channel = connection.channel()
        channel.queue_delete("jobs.dead")
        channel.queue_delete("other")
        channel.queue_declare("other", durable=True, arguments={"x-max-priority": 9})
        channel.exchange_delete("work.events")
        channel.exchange_declare("work.events", "direct", durable=True)
    code, out, _ = mqctl(capsys, str(ini), "verify", "--json", "--no-management")
    assert code == 1
    report = json.loads(out)
    drift = {(f["kind"], f["name"]): f for f in report["findings"] if f["state"] != "ok"}
    assert set(drift) == {("queue", "jobs.dead"), ("queue", "other"), ("exchange", "work.events")}
    assert drift["queue", "jobs.dead"]["state"] == "missing"
    assert "x-max-priority" in drift["queue", "other"]["detail"]
    assert "type" in drift["exchange", "work.events"]["detail"]
    assert counts_missing_untouched(fresh_vhost_url)


def counts_missing_untouched(url: str) -> bool:
    """verify never creates what is missing."""
    try:
        queue_state(url, ["jobs.dead"])
    except pika.exceptions.ChannelClosedByBroker as exc:
        return bool(exc.reply_code == 404)
    return False


@pytest.mark.broker
def test_unreachable_broker_is_a_one_liner(
    ini: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AMQP_URL", "amqp://guest:s3cret@127.0.0.1:1/%2F")
    code, out, err = mqctl(capsys, str(ini), "queues")
    assert code == 3 and err.startswith("mqctl: error: cannot connect to")
    assert "s3cret" not in err + out and "***" in err


# -- with the management API -------------------------------------------------------------------


GIVEN = "given by --management-url"
#: What mqctl says of the management API it reaches for the test broker's AMQP URL.
DERIVED = (
    "mqctl: management API http://guest:***@127.0.0.1:15672 (derived from the AMQP URL's host)\n"
)


def unacked(capsys: pytest.CaptureFixture[str], ini: Path, url: str) -> dict[str, int | None]:
    code, out, err = mqctl(capsys, str(ini), "queues", "--json", "--management-url", url)
    assert code == 0 and err == DERIVED.replace("derived from the AMQP URL's host", GIVEN), err
    return {row["name"]: row["unacked"] for row in json.loads(out)}


@pytest.mark.broker
def test_queues_shows_unacked_from_the_management_api(
    ini: Path,
    registry: Registry,
    fresh_vhost_url: str,
    management: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    publisher = registry.publisher("work")
    for n in range(3):
        publisher.publish({"id": n}, routing_key="jobs.a")
    with pika.BlockingConnection(pika.URLParameters(fresh_vhost_url)) as connection:
        channel = connection.channel()
        for _ in range(2):  # held, not acked, until the connection closes
            assert channel.basic_get("jobs", auto_ack=False)[0] is not None
        wait_until(
            lambda: unacked(capsys, ini, management)["jobs"] == 2,
            timeout=30,
            what="the management API reporting 2 unacked",
        )
        code, out, err = mqctl(capsys, str(ini), "queues")  # the default URL
        assert code == 0 and err == DERIVED
        assert out.splitlines()[1].split() == ["jobs", "queue", "1", "2", "0"]
        assert "not available" not in out
    assert unacked(capsys, ini, management)["other"] == 0


@pytest.mark.broker
def test_verify_compares_bindings_through_the_management_api(
    ini: Path, fresh_vhost_url: str, management: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = mqctl(capsys, str(ini), "verify")
    assert code == 0 and err == DERIVED, out + err
    assert f"all {9 + LADDER + LADDER_BINDINGS} exchanges, queues and bindings match" in out
    assert "OK     binding   work.events -> jobs [jobs.#]" in out
    with pika.BlockingConnection(pika.URLParameters(fresh_vhost_url)) as connection:
        channel = connection.channel()
        channel.queue_unbind("jobs", "work.events", "jobs.#")
        channel.queue_bind("other", "work.events", "surprise")
    code, out, _ = mqctl(capsys, str(ini), "verify", "--json", "--management-url", management)
    assert code == 1
    report = json.loads(out)
    drift = {(f["kind"], f["name"]): f["state"] for f in report["findings"] if f["state"] != "ok"}
    assert drift == {
        ("binding", "work.events -> jobs [jobs.#]"): "missing",
        ("binding", "work.events -> other [surprise]"): "extra",
    }
    assert report["not_checked"]["bindings"] == 0
    code, out, _ = mqctl(capsys, str(ini), "verify")
    total = 10 + LADDER + LADDER_BINDINGS  # the extra binding counts
    assert code == 1 and f"2 of {total} declarations differ" in out
    assert [line.split()[0] for line in out.splitlines()[1:4]] == ["MISSING", "EXTRA", "OK"]


@pytest.mark.broker
def test_an_unreachable_management_api_falls_back_to_amqp(
    ini: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "http://guest:s3cret@127.0.0.1:1"
    code, out, err = mqctl(capsys, str(ini), "queues", "--management-url", url)
    assert code == 0 and out.splitlines()[1].split() == ["jobs", "queue", "0", "n/a", "0"]
    assert "(unacked: not available over AMQP)" in out
    named, refused = err.splitlines()
    assert named == "mqctl: management API http://guest:***@127.0.0.1:1 (given by --management-url)"
    assert refused.startswith("mqctl: not using the management API at http://guest:***@127.0.0.1:1")
    assert "unacked shown as n/a" in refused
    code, out, err = mqctl(capsys, str(ini), "verify", "--management-url", url)
    assert code == 0 and f"not checked: {3 + LADDER_BINDINGS} binding(s)" in out
    assert err.count("mqctl: not using the management API") == 1 and "bindings not checked" in err
    assert "s3cret" not in out + err
