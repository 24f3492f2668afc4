"""The programmatic path without a topology file: ``Configurator``, ``scan`` and ``add_task``."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import legacy_app.tasks
import pytest

from mqwire.runtime import ConfigurationError, Configurator, MessageRequest, dispatch_task
from mqwire.runtime.publish.local_publisher import LocalPublisherConsumer
from mqwire.runtime.wiring.configurator import resolve_dotted

LOCAL = "mqwire.runtime.publisher.locally_dispatching_publisher_consumer_factory"
SETTINGS = {
    "jobs.mq": LOCAL,
    "jobs.mq.routes": "jobs.#:jobs",
    "jobs.mq.continue_on_exception": "false",
}

#: (prefix, registry seen through the configurator) per call of ``recording_factory``.
BUILT: list[tuple[str, Any]] = []


class Component:
    """What ``recording_factory`` builds: something that is no publisher."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix


def recording_factory(config: Configurator, prefix: str) -> Component:
    BUILT.append((prefix, config.registry))
    return Component(prefix)


def handler(context: Any, request: MessageRequest) -> None:
    legacy_app.tasks.CALLS.append((request.task_name, context, request))


@pytest.fixture(autouse=True)
def clear_calls() -> Iterator[None]:
    legacy_app.tasks.CALLS.clear()
    BUILT.clear()
    yield
    legacy_app.tasks.CALLS.clear()


def configurator(**extra: str) -> Configurator:
    config = Configurator({**SETTINGS, **extra}, environ={})
    config.add_publisher_consumer("jobs", "jobs.mq")
    return config


def test_the_readme_example_runs_a_scanned_task_locally() -> None:
    config = configurator()
    config.scan("legacy_app")
    registry = config.make_registry()

    registry.publisher("jobs").publish(body={"id": 7}, routing_key="jobs.created")

    ((name, context, request),) = legacy_app.tasks.CALLS
    assert name == "run_job" and request.queue == "jobs"
    assert isinstance(context, legacy_app.tasks.Job) and context.job_id == 7


def test_scan_collects_marked_functions_with_their_options_and_nothing_else() -> None:
    config = configurator()
    config.scan("legacy_app")
    registry = config.make_registry()

    assert sorted(registry.tasks) == ["run_job", "send_mail"]
    job, mail = registry.task("run_job"), registry.task("send_mail")
    assert job.function is legacy_app.tasks.run_job
    assert job.root_factory is legacy_app.tasks.Job and job.timeout == 5
    assert (job.queue, job.path) == ("jobs", "legacy_app.tasks:run_job")
    assert mail.function is legacy_app.tasks.mail and mail.publisher_consumer == "jobs"
    assert (mail.queue, mail.root_factory, mail.timeout) == ("mail", None, None)


def test_importing_marked_tasks_registers_nothing() -> None:
    importlib.import_module("legacy_app.tasks")

    registry = configurator().make_registry()

    assert registry.tasks == {}


def test_a_scanned_task_reached_by_its_queue_name_and_by_task_name() -> None:
    config = configurator()
    config.scan("legacy_app")
    registry = config.make_registry()

    dispatch_task(registry, "send_mail", {"to": "ann"})
    registry.publisher("jobs").publish(body={"to": "bob"}, routing_key="mail")

    assert [(n, r.params["to"]) for n, _, r in legacy_app.tasks.CALLS] == [
        ("send_mail", "ann"),
        ("send_mail", "bob"),
    ]


def test_scanning_a_package_that_does_not_import_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="cannot import 'no_such_app'"):
        configurator().scan("no_such_app")


def test_add_task_adds_one_task_with_its_options() -> None:
    config = configurator()
    job = legacy_app.tasks.Job
    config.add_task(handler, queue="reports", name="report", root_factory=job, timeout=2.5)
    registry = config.make_registry()

    task = registry.task("report")
    assert (task.queue, task.root_factory, task.timeout) == ("reports", job, 2.5)
    assert task.path == f"{__name__}:handler"
    assert "reports" in registry.queues  # a task's queue needs no other declaration
    registry.publisher("jobs").publish(body={"id": 1}, routing_key="reports")
    ((name, context, request),) = legacy_app.tasks.CALLS
    assert (name, request.params, type(context)) == ("report", {"id": 1}, job)


def test_add_task_names_a_task_after_its_function_and_accepts_closures() -> None:
    config = configurator()
    config.add_task(handler, queue="a")
    config.add_task(lambda context, request: None, queue="b", name="anonymous")

    registry = config.make_registry()

    assert sorted(registry.tasks) == ["anonymous", "handler"]
    assert "<lambda>" in registry.task("anonymous").path


def test_a_task_name_used_twice_is_an_error_naming_both_places() -> None:
    config = configurator()
    config.scan("legacy_app")

    with pytest.raises(ConfigurationError) as raised:
        config.add_task(handler, queue="other", name="run_job")

    message = str(raised.value)
    assert message.startswith("task 'run_job' is defined twice: ")
    assert "legacy_app/tasks.py:" in message and f"{__name__}:handler" in message


def test_two_tasks_on_one_queue_is_an_error_naming_both() -> None:
    config = configurator()
    config.scan("legacy_app")

    with pytest.raises(ConfigurationError) as raised:
        config.add_task(handler, queue="jobs")

    message = str(raised.value)
    assert "queue 'jobs' would run two tasks: 'run_job' (" in message
    assert "legacy_app/tasks.py:" in message and f"'handler' ({__name__}:handler)" in message


def test_a_publisher_consumer_added_twice_is_an_error() -> None:
    config = configurator()

    with pytest.raises(ConfigurationError, match="publisher_consumer 'jobs' is added twice"):
        config.add_publisher_consumer("jobs", "jobs.mq")


def test_a_custom_factory_is_named_by_its_dotted_path_and_sees_the_registry() -> None:
    config = configurator(**{"extra.mq": f"{__name__}:recording_factory", "extra.mq.queues": "x"})
    config.add_publisher_consumer("extra", "extra.mq")

    registry = config.make_registry()

    assert [prefix for prefix, _ in BUILT] == ["extra.mq"]
    assert BUILT[0][1] is registry
    component = registry.consumer("extra")
    assert isinstance(component, Component) and component.prefix == "extra.mq"
    assert isinstance(registry.publisher("jobs"), LocalPublisherConsumer)


def test_every_factory_of_a_prefix_is_built_in_order() -> None:
    config = configurator(**{"jobs.mq": f"{LOCAL} {__name__}.recording_factory"})

    registry = config.make_registry()

    assert [type(c) for c in registry.components["jobs"]] == [LocalPublisherConsumer, Component]
    assert registry.publisher("jobs") is registry.components["jobs"][0]


def test_a_factory_that_cannot_be_found_is_a_configuration_error() -> None:
    config = configurator(**{"jobs.mq": f"{__name__}:no_such_factory"})

    with pytest.raises(ConfigurationError, match=r"does not define 'no_such_factory'"):
        config.make_registry()


def test_unknown_names_list_the_known_ones() -> None:
    config = configurator(**{"extra.mq": f"{__name__}:recording_factory"})
    config.add_publisher_consumer("extra", "extra.mq")
    config.scan("legacy_app")
    registry = config.make_registry()

    with pytest.raises(ConfigurationError, match=r"^unknown publisher 'extra'; known: 'jobs'$"):
        registry.publisher("extra")  # it has components, but none that publishes
    with pytest.raises(ConfigurationError, match=r"^unknown task 'mail'; known: 'run_job', 'se"):
        registry.task("mail")
    with pytest.raises(
        ConfigurationError, match=r"^unknown publisher_consumer 'job'; known: 'extra', 'jobs'$"
    ):
        registry.consumer("job")


def test_the_registry_and_unknown_prefixes_are_errors_before_make_registry() -> None:
    config = configurator()

    with pytest.raises(ConfigurationError, match="only once make_registry"):
        _ = config.registry
    with pytest.raises(ConfigurationError, match="no publisher_consumer was added with prefix 'x'"):
        config.settings_for("x")


def test_without_topology_the_queues_come_from_settings_and_tasks() -> None:
    config = configurator(**{"jobs.mq.queues": "spare"})
    config.add_task(handler, queue="reports")

    queues = config.queues()

    assert sorted(queues) == ["jobs", "reports", "spare"]
    assert queues["jobs"].consumer == "jobs" and queues["reports"].consumer is None


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("os.path:join", "join"),
        ("os.path.join", "join"),
        ("collections:OrderedDict.fromkeys", "fromkeys"),
        (f"{__name__}:recording_factory", "recording_factory"),
    ],
)
def test_resolve_dotted_accepts_colon_and_dot_paths(path: str, expected: str) -> None:
    assert resolve_dotted(path).__name__ == expected


def test_resolve_dotted_names_the_module_that_does_not_import() -> None:
    with pytest.raises(ConfigurationError) as raised:
        resolve_dotted("no_such_module.sub:thing")

    message = str(raised.value)
    assert message.startswith("cannot import 'no_such_module.sub' (for 'no_such_module.sub:thing')")
    assert "No module named 'no_such_module'" in message


def test_resolve_dotted_names_the_attribute_that_is_missing() -> None:
    with pytest.raises(ConfigurationError, match=r"^module 'os' does not define 'path.nope'$"):
        resolve_dotted("os:path.nope")


def test_resolve_dotted_reports_the_import_error_of_the_module_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "broken_factory_mod.py").write_text("raise RuntimeError('half-configured')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "broken_factory_mod", raising=False)

    with pytest.raises(ConfigurationError, match="half-configured") as raised:
        resolve_dotted("broken_factory_mod:factory")

    assert isinstance(raised.value.__cause__, RuntimeError)


@pytest.mark.parametrize(
    ("factory", "warned"), [("mqwire.runtime.publisher.pika_publisher_factory", 1), (LOCAL, 0)]
)
def test_unverified_tls_is_logged_once_per_amqp_publisher_consumer_when_added(
    caplog: pytest.LogCaptureFixture, factory: str, warned: int
) -> None:
    settings = {
        "jobs.mq": factory,
        "jobs.mq.url": "amqps://guest:guest@127.0.0.1:5671/%2F",
        "jobs.mq.tls.verify": "false",
    }
    config = Configurator(settings)
    with caplog.at_level("WARNING", logger="mqwire.tls"):
        config.add_publisher_consumer("jobs", "jobs.mq")
        config.make_registry().close()  # builds the publisher: no second warning from there

    records = [r for r in caplog.records if r.name == "mqwire.tls"]
    assert len(records) == warned
    if warned:
        assert (
            records[0]
            .getMessage()
            .startswith(
                "publisher_consumer 'jobs': jobs.mq.tls.verify is false: the broker's certificate "
                "and host name are not checked"
            )
        )
