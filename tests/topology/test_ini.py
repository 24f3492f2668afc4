"""Reading compiled INI files back: exact values, and clear errors for hand-edited ones."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest

from mqwire.compiler import compile_topology
from mqwire.topology import TopologyErrors, load_topology_file, read_compiled_ini

CASES = Path(__file__).parent.parent / "compiler" / "cases"


def compiled(case: str) -> str:
    return compile_topology(load_topology_file(CASES / case / "topology.yaml", scanner=None)).ini


def test_percent_in_urls_reads_back_with_plain_configparser() -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(compiled("issue_example"))
    url = "${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2F}"
    assert parser["settings"]["ticketing.cart.mq.url"] == url
    assert parser["connection:main"]["url"] == url


def test_default_configparser_interpolation_is_why_we_turn_it_off() -> None:
    parser = configparser.ConfigParser()  # what a careless reader would do
    parser.read_string(compiled("issue_example"))
    with pytest.raises(configparser.InterpolationSyntaxError):
        parser.get("connection:main", "url")


def test_routes_starting_with_hash_survive_configparser_comments() -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(compiled("hash_routes"))
    routes = parser["settings"]["app.events.mq.routes"].split()
    assert "#:everything" in routes
    assert "#.created:audit" in routes
    assert "order.#.shipped:shipped" in routes


def test_settings_keep_the_old_grammar() -> None:
    settings = read_compiled_ini(compiled("issue_example")).settings
    assert settings["ticketing.lots.mq"].split() == [
        "mqwire.runtime.consumer.pika_client_factory",
        "mqwire.runtime.publisher.pika_publisher_factory",
    ]
    assert "lots.*.mail:lots.mail" in settings["ticketing.lots.mq.routes"].split()
    assert settings["ticketing.lots.mq.continue_on_exception"] == "false"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("prefetch = 10", "prefetch = ten"), "[queue:cart] prefetch has value 'ten'"),
        (("durable = true", "durable = yes"), "durable has value 'yes', which is not valid"),
        (("registry = compiled_registry.py\n", ""), "[mqwire] registry is missing"),
        (("task = ticketing.tasks:elect_lots\n", ""), "[task:elect_lots] task is missing"),
    ],
)
def test_malformed_values_name_section_and_key(edit: tuple[str, str], message: str) -> None:
    text = compiled("issue_example").replace(*edit, 1)
    with pytest.raises(TopologyErrors) as caught:
        read_compiled_ini(text, source_name="compiled.ini")
    assert message in str(caught.value)
    assert str(caught.value).startswith("compiled.ini: error: ")


def test_broken_ini_syntax_is_a_topology_error() -> None:
    with pytest.raises(TopologyErrors, match="File contains no section headers"):
        read_compiled_ini("no section here\n")
