"""A task's ``timeout:`` on the local transport: the outcome ``mserve`` gives it.

No test waits for a clock: the overrunning task (``local_app.overrun``) cannot end by itself
before ``RELEASE`` is set, which only the fixture's teardown does, so with a limit of 50 ms it
overruns on every run however slow the machine; the ``TaskTimeout`` sent into its thread ends
it within one of its 10 ms waits. A test of the abandoning path passes an interrupter that
does nothing. ``tests/runtime/contract/`` runs the same scenarios through ``mserve``.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import local_app
import pytest
import topology_setup as wiring

from mqwire.runtime import Registry
from mqwire.runtime.errors import TaskTimeout
from mqwire.runtime.publish.limited import call_within

TOPOLOGY = """\
version: 1
publisher_consumers:
  jobs: {prefix: local.jobs.mq, transport: local, exchange: shop}
queues:
  limited: {consumer: jobs, retry: {delays: [1, 5]}}
  awaited: {consumer: jobs}
  timed: {consumer: jobs}
  audit: {consumer: jobs}
tasks:
  limited: {task: "local_app:overrun", queue: limited, timeout: 0.05}
  awaited: {task: "local_app:overrun_async", queue: awaited, timeout: 0.05}
  timed: {task: "local_app:work", queue: timed, timeout: 30}
  audit: {task: "local_app:work", queue: audit}
"""
NOW = 1_700_000_000.0


@pytest.fixture
def registry(tmp_path: Path, mqwire_local: Callable[..., Registry]) -> Iterator[Registry]:
    local_app.LOG.clear()
    local_app.RELEASE.clear()
    registry = mqwire_local(wiring.compile_into(tmp_path, TOPOLOGY, "local"))
    registry.local_broker.clock = lambda: NOW
    yield registry
    local_app.RELEASE.set()  # ends any task no interrupt reached
    local_app.LOG.clear()


def ran(kind: str = "start") -> list[tuple[str, Any, int]]:
    return [step[1:] for step in local_app.LOG if step[0] == kind]


def test_an_overrunning_task_is_retried_then_dead_lettered_as_a_task_timeout(
    registry: Registry,
) -> None:
    with pytest.raises(TaskTimeout, match=r"task 'limited' ran longer than its timeout of 0\.05 s"):
        registry.publisher("jobs").publish(body={"id": 1}, routing_key="limited")

    assert ran() == [("limited", 1, 1), ("limited", 1, 2), ("limited", 1, 3)]
    assert ran("end") == []  # interrupted each time, never finished
    (dead,) = registry.local_broker.dead_letters
    reason = "TaskTimeout: task 'limited' ran longer than its timeout of 0.05 s"
    assert dead.reason == reason
    assert {k: v for k, v in dead.delivery.headers.items()} == {
        "x-mqwire-attempt": 3,
        "x-mqwire-reason": reason,
        "x-mqwire-exception": "TaskTimeout",
        "x-mqwire-task": "limited",
        "x-mqwire-queue": "limited",
        "x-mqwire-attempts": 3,
        "x-mqwire-failed-at": int(NOW),
    }


def test_an_overrunning_coroutine_task_times_out_alike(registry: Registry) -> None:
    with pytest.raises(TaskTimeout, match=r"task 'awaited' ran longer than its timeout"):
        registry.publisher("jobs").publish(body={"id": 1}, routing_key="awaited")

    assert ran() == [("awaited", 1, 1)] and ran("end") == []
    (dead,) = registry.local_broker.dead_letters
    assert dead.delivery.headers["x-mqwire-exception"] == "TaskTimeout"


def test_what_an_overrunning_task_published_before_its_limit_is_delivered(
    registry: Registry,
) -> None:
    body = {"id": 1, "then": [["audit", {"id": 2}]]}
    with pytest.raises(TaskTimeout):
        registry.publisher("jobs").publish(body=body, routing_key="limited")

    # confirmed while the task ran, as a broker would have: once per attempt
    assert [task for task, _, _ in ran()].count("audit") == 3


def test_a_task_within_its_timeout_is_acked_and_its_follow_ups_run_after_it(
    registry: Registry,
) -> None:
    body = {"id": 1, "then": [["audit", {"id": 2}], ["audit", {"id": 3}]]}
    message_id = registry.publisher("jobs").publish(body=body, routing_key="timed")

    assert local_app.LOG == [
        ("start", "timed", 1, 1),
        ("end", "timed", 1, 1),
        ("start", "audit", 2, 1),
        ("end", "audit", 2, 1),
        ("start", "audit", 3, 1),
        ("end", "audit", 3, 1),
    ]
    assert ("timed", message_id) in registry.local_broker.processed
    assert registry.local_broker.dead_letters == []


class NoInterrupt:
    """An interpreter without async exceptions: the thread is only abandoned."""

    def __init__(self) -> None:
        self.sent: list[int] = []

    def raise_in(self, ident: int, exc: type[BaseException]) -> bool:
        self.sent.append(ident)
        return False

    def clear(self, ident: int) -> None:
        pass


def test_a_task_that_cannot_be_interrupted_is_abandoned_after_the_grace() -> None:
    release, finished = threading.Event(), threading.Event()

    def blocked() -> None:
        release.wait()
        finished.set()

    interrupt = NoInterrupt()
    with pytest.raises(TaskTimeout, match=r"'stuck' ran longer than its timeout of 0\.01 s"):
        call_within(blocked, 0.01, 0.0, "stuck", interrupt=interrupt)  # type: ignore[arg-type]

    assert len(interrupt.sent) == 1 and not finished.is_set()  # still running, abandoned
    release.set()
    assert finished.wait(10)


def test_a_call_in_time_returns_or_raises_its_own_error_in_the_callers_context() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="none")
    var.set("caller")
    seen: list[tuple[str, bool]] = []

    def task() -> None:
        seen.append((var.get(), threading.current_thread() is threading.main_thread()))

    def failing() -> None:
        raise KeyError("gone")

    call_within(task, 30, 0, "task")
    with pytest.raises(KeyError, match="gone"):
        call_within(failing, 30, 0, "failing")

    assert seen == [("caller", False)]
