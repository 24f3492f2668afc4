"""``python -m bench --quick`` end to end on a tiny N, so the benchmark harness never rots.

Only the shape of the results is checked: every section, every contender, a median for each;
never a timing (this machine's speed is not the test's business).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.broker
def test_quick_run_reports_every_section(
    amqp_url: str, rabbitmqctl: Callable[..., str], tmp_path: Path
) -> None:
    out = tmp_path / "results.json"
    # 2000 messages: the ceiling drains 200 faster than the watcher may see it start on a busy
    # machine, and the harness then rightly refuses the measurement.
    argv = ["--quick", "--n", "2000", "--latency-n", "40", "--json", str(out), "--url", amqp_url]
    done = subprocess.run(
        [sys.executable, "-m", "bench", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    results = json.loads(out.read_text())

    sections = {"consume", "publish", "latency", "compile", "middleware"}
    assert {"meta", "ratios", "targets", *sections} <= set(results)
    assert results["meta"]["n"] == 2000
    assert {"cpu", "cores", "versions", "shared"} <= set(results["meta"]["machine"])
    assert {"ceiling", "mserve_plain_c1", "mserve_async", "mserve_plain_c1@off"} <= set(
        results["consume"]
    )
    assert {"mqwire_publish", "mqwire_batch", "raw_each", "raw_pipelined"} <= set(
        results["publish"]
    )
    # With the fast paths off too (MQWIRE_FASTPATH=off), beside the default (auto).
    assert {"mqwire_publish@off", "mqwire_batch@off"} <= set(results["publish"])
    assert results["meta"]["fastpaths"] == ["auto", "off"]
    assert results["ratios"]["publish:mqwire_publish@off/raw_each"] is not None
    assert set(results["latency"]) == {"ceiling", "mserve_plain", "mserve_async"}
    for section, field in (("consume", "rate"), ("publish", "rate"), ("latency", "p50_ms")):
        for key, entry in results[section].items():
            assert entry[field]["median"] is not None, (section, key, entry[field]["errors"])
    assert set(results["middleware"]) == {"publish", "task"}
    for entry in results["middleware"].values():
        assert entry["none"]["median"] is not None and entry["added"]["median"] is not None
    assert set(results["compile"]["sizes"]) == {"10", "100", "1000"}
    assert results["compile"]["mserve_startup_s"]["median"] is not None
    assert results["compile"]["mserve_rss_mib"]["median"] is not None
    assert results["compile"]["mserve_startup_s@off"]["median"] is not None  # and fast paths off
    assert results["compile"]["mserve_rss_settled_mib@off"]["median"] is not None
    assert {t["target"].split(":")[0] for t in results["targets"]} >= {
        "consume",
        "publish",
        "latency p50",
        "compile",
    }

    assert "Targets (issue 5)" in done.stdout
    assert "mqwire publish(), one by one, confirmed [fastpath off]" in done.stdout
    assert "mserve start-up, ticketing example [fastpath off] (s)" in done.stdout
    assert "share this machine" in done.stdout
    assert out.with_suffix(".md").read_text().count("| target |") == 1


def test_fewer_than_three_runs_need_quick() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--repeat", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "at least 3 runs" in done.stderr


class _QuietBroker:
    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    def wait_quiet(self) -> float:
        self.calls.append("quiet")
        return 0.0


def test_each_round_starts_one_contender_further_on_a_quiet_broker() -> None:
    from bench.harness import RunConfig, repeated

    calls: list[str] = []
    config = RunConfig(broker=_QuietBroker(calls), work=Path("unused"))  # type: ignore[arg-type]

    def run(key: str) -> Callable[[], str]:
        return lambda: calls.append(key) or key  # type: ignore[func-returns-value]

    results = repeated(config, [(k, run(k)) for k in "abc"], lambda line: None)

    ran = [c for c in calls if c != "quiet"]
    assert ran == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
    assert calls == [x for key in ran for x in ("quiet", key)]
    assert results == {"a": ["a"] * 3, "b": ["b"] * 3, "c": ["c"] * 3}


@pytest.mark.broker
def test_the_broker_watched_for_quiet_is_the_local_rabbitmq(amqp_url: str) -> None:
    from bench.broker import Broker

    broker = Broker(amqp_url)
    broker.wait_quiet(timeout=0.5)

    assert Path(f"/proc/{broker._pid}/comm").read_text().strip() == "beam.smp"
