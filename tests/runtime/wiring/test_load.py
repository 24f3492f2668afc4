"""``load()``: the compiled INI and registry module become a registry, or a clear error."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import topology_setup as wiring

from mqwire.runtime import ConfigurationError, load
from mqwire.topology import TopologyErrors

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "ticketing"

TOPOLOGY = """\
version: 1
connections:
  main: {url: "amqp://app:${APP_PASSWORD}@mq.example.com/%2F"}
publisher_consumers:
  web: {prefix: web.mq, transport: amqp, connection: main}
queues:
  work: {consumer: web}
tasks:
  work: {task: "contract_app:record", queue: work}
"""


@pytest.fixture
def example_on_path() -> Iterator[None]:
    sys.path.insert(0, str(EXAMPLE))
    yield
    sys.path.remove(str(EXAMPLE))
    for name in [m for m in sys.modules if m == "ticketing" or m.startswith("ticketing.")]:
        del sys.modules[name]


@pytest.mark.usefixtures("example_on_path")
def test_the_example_loads_with_every_name_it_declares() -> None:
    registry = load(EXAMPLE / "compiled.ini", environ={})

    assert sorted(registry.tasks) == [
        "audit_lottery_event",
        "elect_lots",
        "release_cart",
        "send_lottery_mail",
    ]
    assert registry.task("release_cart").root_factory.__name__ == "CartResource"
    assert registry.task("release_cart").timeout == 30
    assert registry.publisher("lots").name == "lots"
    assert registry.consumer("cart").settings.url == "amqp://guest:guest@127.0.0.1:5672/%2F"
    assert registry.queue_policy("lots.election").retry_delays == (1, 5, 30)
    assert registry.settings["ticketing.lots.mq.exchange"] == "ticketing.lots"


@pytest.mark.usefixtures("example_on_path")
def test_placeholders_are_resolved_from_the_injected_environment() -> None:
    registry = load(EXAMPLE / "compiled.ini", environ={"AMQP_URL": "amqp://other-host/%2F"})

    assert registry.consumer("lots").settings.url == "amqp://other-host/%2F"


def test_a_missing_variable_is_an_error_naming_it(tmp_path: Path) -> None:
    ini = wiring.compile_into(tmp_path, TOPOLOGY)

    with pytest.raises(ConfigurationError, match="APP_PASSWORD") as raised:
        load(ini, environ={})
    assert "web.mq.url" in str(raised.value)


def test_a_resolved_password_is_shown_masked(tmp_path: Path) -> None:
    ini = wiring.compile_into(tmp_path, TOPOLOGY)

    registry = load(ini, environ={"APP_PASSWORD": "s3cr3t"})
    assert registry.consumer("web").settings.masked_url == "amqp://app:***@mq.example.com/%2F"


def test_a_task_module_that_does_not_import_is_an_error_saying_what_to_do(tmp_path: Path) -> None:
    ini = wiring.compile_into(tmp_path, TOPOLOGY.replace("contract_app:", "not_installed_app:"))

    with pytest.raises(ConfigurationError) as raised:
        load(ini, environ={"APP_PASSWORD": "x"})
    message = str(raised.value)
    assert "not_installed_app" in message and "PYTHONPATH" in message


def test_a_missing_registry_module_says_to_run_mq_compile(tmp_path: Path) -> None:
    ini = wiring.compile_into(tmp_path, TOPOLOGY)
    (tmp_path / "compiled_registry.py").unlink()

    with pytest.raises(ConfigurationError, match="run mq-compile"):
        load(ini, environ={"APP_PASSWORD": "x"})


def test_a_missing_ini_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"cannot read .*nowhere\.ini"):
        load(tmp_path / "nowhere.ini")


def test_a_hand_edited_ini_is_reported_with_its_location(tmp_path: Path) -> None:
    ini = wiring.compile_into(tmp_path, TOPOLOGY)
    ini.write_text(ini.read_text().replace("prefetch = 1", "prefetch = many"))

    with pytest.raises(TopologyErrors, match=r"compiled\.ini:"):
        load(ini, environ={"APP_PASSWORD": "x"})


def test_unknown_names_list_the_known_ones(tmp_path: Path) -> None:
    registry = load(wiring.compile_into(tmp_path, TOPOLOGY), environ={"APP_PASSWORD": "x"})

    with pytest.raises(ConfigurationError, match="unknown publisher 'wbe'; known: 'web'"):
        registry.publisher("wbe")
    with pytest.raises(ConfigurationError, match="unknown task 'wrok'; known: 'work'"):
        registry.task("wrok")
