"""``mqwire.compiled = PATH``: a compiled topology wires a Pyramid app in one setting."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationConflictError

from mqwire.pyramid import IPublisher, get_registry
from mqwire.testing.compiling import compiled_ini

TOPOLOGY = """
    version: 1
    scan: [compiled_app]
    publisher_consumers:
      jobs:
        prefix: compiled_app.mq
        transport: local
    queues:
      jobs:
        consumer: jobs
      done:
        consumer: jobs
"""

TASKS = """
    from mqwire.runtime import task_config

    RAN = []

    @task_config(queue="jobs")
    def job(context, request):
        RAN.append((request.params["n"], request.registry, request.registry.settings["app.name"]))
        request.registry.publisher("jobs").publish({"n": request.params["n"] + 1}, "done")

    @task_config(queue="done")
    def done(context, request):
        RAN.append((request.params["n"], request.registry, "done"))
"""


@pytest.fixture
def compiled(tmp_path: Path) -> Iterator[Path]:
    """The topology above, with its package, compiled to the local transport."""
    (tmp_path / "compiled_app").mkdir()
    (tmp_path / "compiled_app" / "__init__.py").write_text("")
    (tmp_path / "compiled_app" / "tasks.py").write_text(textwrap.dedent(TASKS))
    (tmp_path / "topology.yaml").write_text(textwrap.dedent(TOPOLOGY))
    sys.path.insert(0, str(tmp_path))
    try:
        yield compiled_ini(tmp_path / "topology.yaml", tmp_path, transport="local")
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.split(".")[0] == "compiled_app"]:
            del sys.modules[name]


def configurator(ini: Path) -> Configurator:
    settings = {"mqwire.compiled": str(ini), "app.name": "compiled app"}
    return Configurator(settings=settings)


def test_every_publisher_consumer_and_task_of_the_compiled_ini(compiled: Path) -> None:
    config = configurator(compiled)
    config.include("mqwire.pyramid")
    registry = config.make_wsgi_app().registry

    registry.getUtility(IPublisher, name="jobs").publish({"n": 1}, "jobs")

    ran = sys.modules["compiled_app.tasks"].RAN
    assert ran == [(1, registry, "compiled app"), (2, registry, "done")]
    assert sorted(get_registry(registry).tasks) == ["done", "job"]


def test_a_scan_of_the_same_package_adds_each_task_once(compiled: Path) -> None:
    config = configurator(compiled)
    config.include("mqwire.pyramid")
    config.scan("compiled_app")
    registry = config.make_wsgi_app().registry

    registry.getUtility(IPublisher, name="jobs").publish({"n": 1}, "jobs")

    assert len(sys.modules["compiled_app.tasks"].RAN) == 2


def test_a_directive_of_a_compiled_name_conflicts(compiled: Path) -> None:
    config = configurator(compiled)
    config.include("mqwire.pyramid")
    config.include(add_jobs_again)

    with pytest.raises(ConfigurationConflictError, match=r"mqwire\.publisher_consumer', 'jobs'"):
        config.commit()


def add_jobs_again(config: Configurator) -> None:
    """An include of its own: two includes adding one name conflict (main would win)."""
    config.add_publisher_consumer("jobs", "compiled_app.mq")
