"""Middleware on the local transport and the hooks' rules, without a broker.

The hooks run in the order given (``after_*`` reversed), only those a middleware overrides, in
one ``contextvars`` context per delivery; a hook raising never loses or multiplies a message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import middleware_app as app
import pytest
import topology_setup as wiring
from middleware_app import Recorder

from mqwire.runtime import (
    BatchPublishError,
    ConfigurationError,
    Configurator,
    EncodeError,
    MessageRequest,
    Middleware,
    Registry,
    TaskOutcome,
    load,
)
from mqwire.runtime.middleware import Chain, TaskHooks
from mqwire.runtime.wire import WireMessage

TOPOLOGY = """\
version: 1
publisher_consumers:
  jobs: {prefix: mw.jobs.mq, transport: local}
queues:
  plain: {consumer: jobs, retry: {delays: [1]}}
  coro: {consumer: jobs, retry: {delays: [1]}}
  next: {consumer: jobs}
tasks:
  plain: {task: "middleware_app:work", queue: plain}
  coro: {task: "middleware_app:work_async", queue: coro}
  next: {task: "middleware_app:work", queue: next}
middleware: ["middleware_app:Recorder"]
"""
LOCAL_FACTORY = "mqwire.runtime.publisher.locally_dispatching_publisher_consumer_factory"


@pytest.fixture
def ini(tmp_path: Path) -> Iterator[Path]:
    app.SEEN.clear()
    yield wiring.compile_into(tmp_path, TOPOLOGY)
    app.SEEN.clear()


def recorder(registry: Registry) -> Recorder:
    """The topology's middleware: load() made it from ``middleware_app:Recorder``."""
    made = registry.middleware.middleware[0]
    assert isinstance(made, Recorder)
    return made


@pytest.mark.parametrize("queue", ["plain", "coro"])
def test_hooks_pair_around_a_task_and_carry_its_context_into_what_it_publishes(
    ini: Path, queue: str
) -> None:
    with load(ini) as registry:
        registry.publisher("jobs").publish({"id": 1, "then": [["next", {"id": 2}]]}, queue)
        assert recorder(registry).events == [
            ("before_publish", queue, None),
            ("after_publish", queue, "confirmed"),  # as on a broker: confirmed, then run
            ("before_task", queue, "root"),
            ("before_publish", "next", f"{queue}:1"),  # the task's span, in the task's publish
            ("after_publish", "next", "confirmed"),
            ("after_task", queue, "ack", f"{queue}:1", None),  # in before_task's context
            ("before_task", "next", f"{queue}:1"),  # the header carried the span
            ("after_task", "next", "ack", "next:2", None),
        ]
    assert [(queue, 1, f"{queue}:1"), ("next", 2, "next:2")] == app.SEEN
    assert app.SPAN.get() is None, "the caller's context is untouched"


def test_an_async_task_published_from_a_running_loop_runs_in_the_delivery_context(
    ini: Path,
) -> None:
    async def caller() -> None:
        with load(ini) as registry:
            registry.publisher("jobs").publish({"id": 5}, "coro")  # runs on a helper thread
            assert recorder(registry).events[-1] == ("after_task", "coro", "ack", "coro:5", None)

    asyncio.run(caller())
    assert app.SEEN == [("coro", 5, "coro:5")]


@pytest.mark.parametrize("queue", ["plain", "coro"])
def test_after_task_sees_a_retry_then_a_dead_letter_with_the_task_error(
    ini: Path, queue: str
) -> None:
    with load(ini) as registry:
        with pytest.raises(ValueError, match="fails on attempt 2"):  # dead-lettered: raised
            registry.publisher("jobs").publish({"id": 3, "fail": 2}, queue)
        after = [e for e in recorder(registry).events if e[0] == "after_task"]
    assert after == [
        ("after_task", queue, "retry", f"{queue}:3", "ValueError"),
        ("after_task", queue, "dead-letter", f"{queue}:3", "ValueError"),
    ]
    assert [attempt for _, attempt, _ in app.SEEN] == [3, 3]


class Named(Middleware):
    """Appends ``(name, hook)`` to a shared log; raises in the hooks listed in ``fail``."""

    def __init__(self, name: str, log: list[tuple[str, str]], fail: tuple[str, ...] = ()):
        self.name, self.log, self.fail = name, log, fail

    def _note(self, hook: str) -> None:
        self.log.append((self.name, hook))
        if hook in self.fail:
            raise RuntimeError(f"{self.name}.{hook} failed")

    def before_publish(self, message: WireMessage) -> None:
        self._note("before_publish")

    def after_publish(self, message: WireMessage, error: Any, seconds: float) -> None:
        self._note("after_publish")

    def before_task(self, request: MessageRequest) -> None:
        self._note("before_task")

    def after_task(self, request: MessageRequest, outcome: TaskOutcome) -> None:
        self.log.append((self.name, f"after_task {outcome.result}"))
        if "after_task" in self.fail:
            raise RuntimeError(f"{self.name}.after_task failed")


class AfterTaskOnly(Middleware):
    def __init__(self, outcomes: list[TaskOutcome]) -> None:
        self.outcomes = outcomes

    def after_task(self, request: MessageRequest, outcome: TaskOutcome) -> None:
        self.outcomes.append(outcome)


def local_registry(*middleware: object, task: Any = None) -> tuple[Registry, list[Any]]:
    """A registry by hand: local publisher ``jobs``, queue ``q`` whose task records its runs."""
    runs: list[Any] = []
    config = Configurator({"jobs.mq": LOCAL_FACTORY}, middleware=middleware)
    config.add_publisher_consumer("jobs", "jobs.mq")
    config.add_task(task or (lambda context, request: runs.append(request.params)), queue="q")
    return config.make_registry(), runs


def test_hooks_run_in_order_and_after_hooks_in_reverse() -> None:
    log: list[tuple[str, str]] = []
    registry, runs = local_registry(Named("a", log), Named("b", log))
    registry.publisher("jobs").publish({"n": 1}, "q")
    assert runs == [{"n": 1}]
    assert log == [
        ("a", "before_publish"), ("b", "before_publish"),
        ("b", "after_publish"), ("a", "after_publish"),
        ("a", "before_task"), ("b", "before_task"),
        ("b", "after_task ack"), ("a", "after_task ack"),
    ]  # fmt: skip


def test_only_the_hooks_a_middleware_overrides_are_called() -> None:
    outcomes: list[TaskOutcome] = []
    chain = Chain([AfterTaskOnly(outcomes)])
    assert (chain.before_publish, chain.after_publish, chain.before_task) == ((), (), ())
    assert len(chain.after_task) == 1 and chain.tasks and not chain.publishes
    registry, runs = local_registry(AfterTaskOnly(outcomes))
    assert registry.publisher("jobs")._hooks is None, "no publish hook: nothing on that path"
    registry.publisher("jobs").publish({}, "q")
    assert outcomes == [TaskOutcome("ack")] and runs == [{}]


def test_a_before_publish_error_fails_that_publish_before_anything_is_sent() -> None:
    log: list[tuple[str, str]] = []
    registry, runs = local_registry(Named("a", log), Named("b", log, fail=("before_publish",)))
    publisher = registry.publisher("jobs")
    with pytest.raises(RuntimeError, match=r"b\.before_publish failed") as caught:
        publisher.publish({}, "q")
    assert "Named.before_publish" in caught.value.__notes__[0]
    assert "was not sent" in caught.value.__notes__[0]
    assert runs == [] and log == [("a", "before_publish"), ("b", "before_publish")]
    assert publisher.stats.outcomes["confirmed"] == 0, "not counted: it never left"


def test_a_before_publish_that_returns_something_else_is_an_encode_error() -> None:
    class Wrong(Middleware):
        def before_publish(self, message: WireMessage) -> Any:
            return message.properties

    registry, runs = local_registry(Wrong())
    with pytest.raises(EncodeError, match=r"Wrong\.before_publish returned dict"):
        registry.publisher("jobs").publish({}, "q")
    assert runs == []


def test_a_before_task_error_is_the_task_failure_and_after_task_still_runs() -> None:
    log: list[tuple[str, str]] = []
    outcomes: list[TaskOutcome] = []
    registry, runs = local_registry(AfterTaskOnly(outcomes), Named("b", log, fail=("before_task",)))
    with pytest.raises(RuntimeError, match=r"b\.before_task failed"):  # dead-lettered
        registry.publisher("jobs").publish({}, "q")
    assert runs == [], "the task did not run"
    (outcome,) = outcomes
    assert outcome.result == "dead-letter" and isinstance(outcome.error, RuntimeError)
    assert outcome.reason == "RuntimeError: b.before_task failed"
    assert ("b", "after_task dead-letter") in log
    (dead,) = registry.local_broker.dead_letters
    assert dead.reason == "RuntimeError: b.before_task failed"


def test_errors_of_after_hooks_are_logged_and_the_outcome_stands(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log: list[tuple[str, str]] = []
    failing = Named("a", log, fail=("after_publish", "after_task"))
    registry, runs = local_registry(failing, Named("b", log))
    with caplog.at_level(logging.ERROR, "mqwire.middleware"):
        message_id = registry.publisher("jobs").publish({"n": 2}, "q")
    assert runs == [{"n": 2}] and message_id
    assert not registry.local_broker.dead_letters
    assert [r.getMessage() for r in caplog.records] == [
        f"Named.after_publish failed after publishing message {message_id}; its outcome stands",
        f"Named.after_task failed after message {message_id} of 'q' (ack); its outcome stands",
    ]
    assert ("b", "after_task ack") in log, "the others still ran"


def test_a_batch_runs_before_publish_at_each_call_and_after_publish_with_each_outcome() -> None:
    log: list[tuple[str, str]] = []
    outcomes: list[tuple[str, str | None]] = []

    class Outcomes(Middleware):
        def after_publish(self, message: WireMessage, error: Any, seconds: float) -> None:
            outcomes.append((message.routing_key, type(error).__name__ if error else None))

    registry, runs = local_registry(Named("a", log), Outcomes())
    publisher = registry.publisher("jobs")
    with pytest.raises(BatchPublishError), publisher.batch() as batch:
        batch.publish({"n": 1}, "q")
        batch.publish({"n": 2}, "nowhere")
        assert log == [("a", "before_publish")] * 2 and outcomes == []
    assert outcomes == [("q", None), ("nowhere", "Unroutable")]
    assert runs == [{"n": 1}]
    assert publisher.stats.outcomes["confirmed"] == 1
    assert publisher.stats.outcomes["returned"] == 1
    assert publisher.stats.seconds.count == 2


def test_a_middleware_must_be_an_instance_overriding_a_hook() -> None:
    with pytest.raises(TypeError, match="is not a middleware"):
        Chain([Recorder])  # the class, not an instance
    with pytest.raises(ConfigurationError, match="overriding at least one of"):
        Configurator().add_middleware(object())
    registry, _ = local_registry()
    assert not registry.middleware and registry.publisher("jobs")._hooks is None


def test_a_middleware_factory_that_raises_fails_load_naming_it(tmp_path: Path) -> None:
    ini = wiring.compile_into(tmp_path, TOPOLOGY.replace("Recorder", "broken_factory"))
    app.broken_factory = lambda: 1 / 0  # type: ignore[attr-defined]
    try:
        with pytest.raises(ConfigurationError) as caught:
            load(ini)
    finally:
        del app.broken_factory  # type: ignore[attr-defined]
    assert str(caught.value) == (
        "middleware 'middleware_app:broken_factory' raised ZeroDivisionError: division by zero"
    )


def test_load_runs_the_topology_middleware_before_those_given_in_code(ini: Path) -> None:
    log: list[tuple[str, str]] = []
    with load(ini, middleware=[Named("code", log)]) as registry:
        names = [type(m).__name__ for m in registry.middleware.middleware]
        assert names == ["Recorder", "Named"]
        registry.publisher("jobs").publish({"id": 9}, "next")
        assert recorder(registry).events[-1] == ("after_task", "next", "ack", "next:9", None)
    assert log[0] == ("code", "before_publish") and log[-1] == ("code", "after_task ack")


def test_after_task_runs_once_and_only_after_before_task_began() -> None:
    outcomes: list[TaskOutcome] = []
    request = MessageRequest(b"{}", {}, {}, None, {}, {}, "q", "", "q", "t", "m")
    hooks = TaskHooks(Chain([AfterTaskOnly(outcomes)]), request)
    hooks.after(TaskOutcome("requeue"))  # cancelled before it started: nothing to pair
    assert outcomes == []
    hooks.call(lambda: None)
    hooks.after(TaskOutcome("ack"))
    hooks.after(TaskOutcome("ack"))
    assert outcomes == [TaskOutcome("ack")]


def test_after_task_runs_in_a_copy_while_the_context_is_still_entered() -> None:
    """An abandoned plain task's thread may still run in the delivery's context."""
    seen: list[str | None] = []

    class Spans(Middleware):
        def before_task(self, request: MessageRequest) -> None:
            app.SPAN.set("abandoned")

        def after_task(self, request: MessageRequest, outcome: TaskOutcome) -> None:
            seen.append(app.SPAN.get())

    request = MessageRequest(b"{}", {}, {}, None, {}, {}, "q", "", "q", "t", "m")
    hooks = TaskHooks(Chain([Spans()]), request)
    hooks.call(lambda: hooks.after(TaskOutcome("dead-letter")))  # from inside the context
    assert seen == ["abandoned"]
