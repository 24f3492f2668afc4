"""Through a real ``mserve`` on RabbitMQ: the trace of the test's "web request" reaches the
worker's task spans in the message headers, and runs on into what a task publishes.

``mserve`` is another process: the topology's middleware (``otel_app:tracing``) exports every
span, the worker's and this test's alike, as JSON lines to one file, each with its pid.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from mserve_harness import declared_topology, hooked_topology, mserve_environ, publish_hooked

from mqwire.otel import TracingMiddleware
from mqwire.runtime import Registry
from mqwire.testing import WorkerProcess, wait_until

pytestmark = pytest.mark.broker

Span = dict[str, Any]


@pytest.fixture
def setup(
    tmp_path: Path, vhost_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, Registry]]:
    """The hook tests' topology, traced by ``otel_app:tracing``, declared; a registry whose
    middleware exports to the file too.

    mserve imports ``otel_app`` from this folder: it goes on the worker's PYTHONPATH.
    """
    monkeypatch.setenv("MQWIRE_TEST_SPANS", str(tmp_path / "spans.jsonl"))
    here = str(Path(__file__).parent)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([here, os.environ.get("PYTHONPATH", "")]))
    with declared_topology(tmp_path, hooked_topology("otel_app:tracing"), vhost_url) as compiled:
        yield compiled


def spans(path: Path) -> list[Span]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def child_of(span: Span, parent: Span) -> bool:
    return (span["trace_id"], span["parent"]) == (parent["trace_id"], parent["span_id"])


def test_the_trace_runs_from_the_publishing_request_into_the_workers_tasks_and_on(
    setup: tuple[Path, Registry],
    vhost_url: str,
    tmp_path: Path,
    mqwire_worker: Callable[..., WorkerProcess],
) -> None:
    ini, registry = setup
    (tracing,) = registry.middleware.middleware
    assert isinstance(tracing, TracingMiddleware)
    path = tmp_path / "spans.jsonl"
    worker = mqwire_worker(ini, mserve_environ(vhost_url, tmp_path))  # returns once consuming
    try:
        with tracing.tracer.start_as_current_span("POST /orders"):
            publish_hooked(registry)
        wanted = ["process fast", "process coro", "process flaky", "process flaky",
                  "process follow", "process followups"]  # fmt: skip

        def all_ended() -> list[Span]:
            found = [s for s in spans(path) if s["pid"] == worker.pid]
            names = sorted(s["name"] for s in found if s["kind"] == "CONSUMER")
            return found if names == sorted(wanted) else []

        theirs = wait_until(all_ended, what="every task's span exported by the worker")
    finally:
        worker.signal()
        assert worker.wait() == 0
        worker.stop()

    ours = [s for s in spans(path) if s["pid"] == os.getpid()]
    (web,) = [s for s in ours if s["name"] == "POST /orders"]
    published = {s["attributes"]["messaging.destination.name"]: s for s in ours if s is not web}
    assert sorted(published) == ["coro", "fast", "flaky", "follow"]
    for queue, span in published.items():
        assert (span["kind"], span["name"]) == ("PRODUCER", f"publish {queue}")
        assert child_of(span, web)
        assert span["attributes"]["mqwire.outcome"] == "confirmed"

    def task(name: str) -> list[Span]:
        return [s for s in theirs if s["name"] == name]

    for queue in ["fast", "coro", "follow"]:
        (span,) = task(f"process {queue}")
        assert child_of(span, published[queue]), f"{queue}: the publish's child, in its trace"
        assert span["links"] == [published[queue]["span_id"]]
        assert span["attributes"]["mqwire.outcome"] == "ack"
        assert span["attributes"]["mqwire.attempt"] == 1
        assert span["attributes"]["messaging.rabbitmq.message.delivery_tag"] >= 1
        assert span["status"] == "UNSET"
    first, last = sorted(task("process flaky"), key=lambda s: s["attributes"]["mqwire.attempt"])
    assert [first["attributes"]["mqwire.outcome"], last["attributes"]["mqwire.outcome"]] == [
        "retry", "dead-letter",
    ]  # fmt: skip
    for span in (first, last):
        assert child_of(span, published["flaky"]), "the worker's retry copy kept the headers"
        assert (span["status"], span["events"]) == ("ERROR", ["exception"])
        assert span["attributes"]["error.type"] == "ValueError"

    (follow,) = task("process follow")
    (follow_up,) = task("publish followups")
    assert follow_up["kind"] == "PRODUCER" and child_of(follow_up, follow)
    assert follow_up["attributes"]["mqwire.outcome"] == "confirmed"
    (followed,) = task("process followups")
    assert child_of(followed, follow_up)
    assert {s["trace_id"] for s in theirs} == {web["trace_id"]}, "one trace across processes"
