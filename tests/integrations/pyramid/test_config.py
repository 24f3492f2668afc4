"""config.include("mqwire.pyramid"): the directives as Pyramid actions (conflicts, deferred
errors), the settings grammar with placeholders, the scan, and the publishers' lookups."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationConflictError, ConfigurationExecutionError
from pyramid.request import Request, apply_request_extensions

from mqwire.pyramid import IPublisher, get_publisher, get_registry
from mqwire.runtime.errors import ConfigurationError

LOCAL = "mqwire.runtime.publisher.locally_dispatching_publisher_consumer_factory"
AMQP = "mqwire.runtime.consumer.pika_client_factory mqwire.runtime.publisher.pika_publisher_factory"


@pytest.fixture
def make_package(tmp_path: Path) -> Iterator[Callable[[str, dict[str, str]], str]]:
    """Writes package ``name`` (module name -> source) below ``tmp_path``, importable."""
    names: list[str] = []
    sys.path.insert(0, str(tmp_path))

    def make(name: str, modules: dict[str, str]) -> str:
        folder = tmp_path / name
        folder.mkdir()
        (folder / "__init__.py").write_text("")
        for module, source in modules.items():
            (folder / f"{module}.py").write_text(textwrap.dedent(source))
        names.append(name)
        return name

    yield make
    sys.path.remove(str(tmp_path))
    for module in [m for m in sys.modules if m.split(".")[0] in names]:
        del sys.modules[module]


TASKS = """
    from mqwire.runtime import task_config

    RAN = []

    class Context:
        def __init__(self, request):
            self.request = request

    @task_config(root_factory=Context, queue="jobs")
    def job(context, request):
        RAN.append((type(context).__name__, request.params, request.registry))
        request.registry.publisher("main").publish({"from": "job"}, "after")

    @task_config(queue="after")
    def after(context, request):
        RAN.append(("after", request.params, request.registry))


    @task_config(queue="current")
    def current(context, request):
        from pyramid.threadlocal import get_current_registry

        RAN.append(("current", get_current_registry()))
"""


def configurator(**settings: str) -> Configurator:
    base = {"app.mq": LOCAL, "app.mq.routes": "jobs:jobs after:after current:current"}
    config = Configurator(settings={**base, **settings})
    config.include("mqwire.pyramid")
    return config


def test_a_scanned_task_runs_with_the_pyramid_registry(
    make_package: Callable[[str, dict[str, str]], str],
) -> None:
    package = make_package("scanned_app", {"tasks": TASKS})
    config = configurator()
    config.add_publisher_consumer("main", "app.mq")
    config.scan(package)
    app = config.make_wsgi_app()
    request = Request.blank("/")
    request.registry = app.registry
    apply_request_extensions(request)  # what Pyramid's router does: mq_publisher

    request.mq_publisher("main").publish({"n": 1}, "jobs")

    ran = sys.modules[f"{package}.tasks"].RAN
    assert ran == [("Context", {"n": 1}, app.registry), ("after", {"from": "job"}, app.registry)]
    assert get_registry(request).local_broker.dead_letters == []


def test_a_plain_task_sees_the_registry_as_pyramids_current_one(
    make_package: Callable[[str, dict[str, str]], str],
) -> None:
    package = make_package("current_app", {"tasks": TASKS})
    config = configurator()
    config.add_publisher_consumer("main", "app.mq")
    config.scan(package)
    registry = config.make_wsgi_app().registry

    get_publisher(registry, "main").publish({}, "current")  # outside any web request

    assert [("current", registry)] == sys.modules[f"{package}.tasks"].RAN


def test_two_publisher_consumers_of_one_name_conflict_naming_both_places() -> None:
    config = configurator(**{"other.mq": LOCAL})
    config.add_publisher_consumer("main", "app.mq")  # first place
    config.add_publisher_consumer("main", "other.mq")  # second place

    with pytest.raises(ConfigurationConflictError) as raised:
        config.commit()

    message = str(raised.value)
    assert "('mqwire.publisher_consumer', 'main')" in message
    assert "# first place" in message and "# second place" in message


def test_two_scanned_tasks_of_one_name_conflict(
    make_package: Callable[[str, dict[str, str]], str],
) -> None:
    twice = """
        from mqwire.runtime import task_config

        @task_config(queue="jobs", name="job")
        def one(context, request): ...
    """
    package = make_package("twice_app", {"a": twice, "b": twice.replace("one", "two")})
    config = configurator()
    config.scan(package)

    with pytest.raises(ConfigurationConflictError) as raised:
        config.commit()

    assert "('mqwire.task', 'job')" in str(raised.value)
    assert "twice_app/a.py" in str(raised.value) and "twice_app/b.py" in str(raised.value)


def test_placeholders_resolve_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_AMQP_HOST", "broker.invalid")
    config = configurator(**{"web.mq": AMQP, "web.mq.url": "amqp://u:p@${TEST_AMQP_HOST}/%2F"})
    config.add_publisher_consumer("web", "web.mq")
    registry = config.make_wsgi_app().registry

    publisher = registry.getUtility(IPublisher, name="web").current

    assert publisher.settings.url == "amqp://u:p@broker.invalid/%2F"  # nothing connects yet


def test_a_wrong_setting_fails_the_commit_naming_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_MISSING_URL", raising=False)
    config = configurator(**{"web.mq": AMQP, "web.mq.url": "${TEST_MISSING_URL}"})
    config.add_publisher_consumer("web", "web.mq")

    with pytest.raises(ConfigurationExecutionError) as raised:
        config.commit()

    assert "web.mq.url" in str(raised.value) and "TEST_MISSING_URL" in str(raised.value)


def test_an_unknown_publisher_lists_the_known_ones() -> None:
    config = configurator()
    config.add_publisher_consumer("main", "app.mq")
    app = config.make_wsgi_app()

    with pytest.raises(ConfigurationError, match=r"unknown publisher 'cart'; known: 'main'"):
        get_publisher(app.registry, "cart")


def test_get_publisher_also_takes_a_task_request_of_a_compiled_ini() -> None:
    """A task shared with a worker that load()s a compiled INI, without Pyramid."""
    from mqwire.runtime import Configurator as MqConfigurator

    config = MqConfigurator({"app.mq": LOCAL})
    config.add_publisher_consumer("main", "app.mq")
    registry = config.make_registry()

    assert get_publisher(registry, "main") is registry.publisher("main")
    with pytest.raises(ConfigurationError, match="unknown publisher 'cart'"):
        get_publisher(registry, "cart")


def test_the_directive_needs_the_include() -> None:
    config = Configurator(settings={"app.mq": LOCAL})

    with pytest.raises(AttributeError, match="add_publisher_consumer"):
        config.add_publisher_consumer("main", "app.mq")


def test_bootstrapping_an_app_without_mqwire_pyramid_says_so(
    tmp_path: Path, make_package: Callable[[str, dict[str, str]], str]
) -> None:
    """What mserve reports (exit 2) for such a development.ini."""
    from mqwire.pyramid.serving import bootstrap_registry

    plain = """
        from pyramid.config import Configurator

        def main(global_config, **settings):
            return Configurator(settings=settings).make_wsgi_app()
    """
    package = make_package("plain_app", {"app": plain})
    ini = tmp_path / "plain.ini"
    ini.write_text(f"[app:main]\nuse = call:{package}.app:main\n")

    with pytest.raises(ConfigurationError, match=r"plain\.ini: the application does not include"):
        bootstrap_registry(str(ini))
