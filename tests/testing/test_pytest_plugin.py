"""The pytest plugin as an application meets it: a project of its own (pytester's folder) with
the files docs/testing.md shows, run by pytest with mqwire installed, and the ways it fails.

The example's files are read from the page itself, so the documented example cannot drift
from what passes.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

DOCS = Path(__file__).parents[2] / "docs" / "testing.md"
#: A caption naming the file (`path`:), a blank line, then the fenced file.
_FILE = re.compile(r"^`([\w./-]+)`[^\n]*:\n\n```\w*\n(.*?)^```$", re.M | re.S)
EXAMPLE_FILES = [
    "pyproject.toml",
    "topology.yaml",
    "shop/__init__.py",
    "shop/tasks.py",
    "tests/test_shop.py",
]


def example() -> dict[str, str]:
    """Each file of the page's complete example: path -> text."""
    return {m[1]: m[2] for m in _FILE.finditer(DOCS.read_text(encoding="utf-8"))}


@pytest.fixture
def shop(pytester: pytest.Pytester) -> pytest.Pytester:
    """A project holding the documented example, outside this repository."""
    files = example()
    assert sorted(files) == sorted(EXAMPLE_FILES), "the page shows the whole project"
    for name, text in files.items():
        path = pytester.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return pytester


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port nothing listens on (bound, never listened)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        yield probe.getsockname()[1]


@pytest.mark.broker
def test_the_documented_example_passes_in_a_project_of_its_own(
    shop: pytest.Pytester, amqp_url: str
) -> None:
    result = shop.runpytest("--mqwire-amqp-url", amqp_url, "-v")

    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*test_the_worker_invoices_the_good_orders PASSED*"])


@pytest.mark.parametrize("ci", ["", "true"])
def test_without_a_broker_the_broker_test_is_skipped_or_in_ci_fails(
    shop: pytest.Pytester, closed_port: int, ci: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", ci)
    url = f"amqp://guest:guest@127.0.0.1:{closed_port}/%2F"

    result = shop.runpytest("--mqwire-amqp-url", url, "-rs")

    reason = f"RabbitMQ is not reachable at amqp://guest:***@127.0.0.1:{closed_port}/%2F"
    if ci:
        result.assert_outcomes(passed=2, errors=1)
        result.stdout.fnmatch_lines([f"*{reason}*(CI must run this test)*"])
    else:
        result.assert_outcomes(passed=2, skipped=1)
        result.stdout.fnmatch_lines([f"SKIPPED*{reason}*"])


@pytest.mark.broker
def test_a_failing_test_shows_the_log_of_its_worker(shop: pytest.Pytester, amqp_url: str) -> None:
    shop.makepyfile(
        test_failing="""
        def start(mqwire_worker, rabbitmq_url, tmp_path):
            environ = {"AMQP_URL": rabbitmq_url, "SHOP_INVOICES": str(tmp_path / "i.txt")}
            worker = mqwire_worker("topology.yaml", environ=environ)
            publisher = worker.registry.publisher("orders")
            publisher.publish({"id": 7, "total": 30}, routing_key="order.created")
            worker.wait_idle(timeout=30)

        def test_passes(mqwire_worker, rabbitmq_url, tmp_path):
            start(mqwire_worker, rabbitmq_url, tmp_path)

        def test_fails(mqwire_worker, rabbitmq_url, tmp_path):
            start(mqwire_worker, rabbitmq_url, tmp_path)
            assert False, "the test itself fails"
        """
    )

    result = shop.runpytest("--mqwire-amqp-url", amqp_url, "-rA", "test_failing.py")

    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*AssertionError: the test itself fails",
            "*- mserve log (compiled.ini, pid *) -*",
            "*INFO mqwire.worker: orders: consuming orders.invoice from amqp://guest:***@*",
            "*INFO mqwire.worker: ack queue=orders.invoice task=invoice *",
        ]
    )
    assert result.stdout.str().count("mserve log (") == 1, "only the failed test shows it"


def test_a_topology_that_does_not_compile_fails_the_test_with_its_located_errors(
    shop: pytest.Pytester,
) -> None:
    shop.makefile(".yaml", bad="version: 1\nqueues:\n  q: {consumer: nobody}\n")
    shop.makepyfile(
        test_bad="""
        def test_bad(mqwire_local):
            mqwire_local("bad.yaml")
        """
    )

    result = shop.runpytest("test_bad.py")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "mq-compile */bad.yaml:",
            "*/bad.yaml:1:1: error: 'publisher_consumers' is a required property (at $)",
            "*/bad.yaml:3:17: error: unknown publisher_consumer 'nobody' (at $.queues.q.consumer)",
            "2 errors; nothing written",
        ]
    )
    assert "Traceback" not in result.stdout.str()
    assert "mqwire/testing" not in result.stdout.str(), "no frames of the plugin"


def test_mqwire_local_takes_an_ini_compiled_to_the_local_transport_and_refuses_another(
    shop: pytest.Pytester,
) -> None:
    for args in (["-o", "local", "--transport", "local"], ["-o", "amqp"]):
        compiled = subprocess.run(
            [sys.executable, "-m", "mqwire.compiler.cli", "topology.yaml", *args],
            cwd=shop.path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert compiled.returncode == 0, compiled.stderr
    shop.makepyfile(
        test_inis="""
        def test_local(mqwire_local, tmp_path, monkeypatch):
            monkeypatch.setenv("SHOP_INVOICES", str(tmp_path / "i.txt"))
            registry = mqwire_local("local/compiled.ini")
            publisher = registry.publisher("orders")
            publisher.publish({"id": 7, "total": 30}, routing_key="order.created")
            assert (tmp_path / "i.txt").read_text() == "order 7: 30 EUR\\n"

        def test_amqp(mqwire_local):
            mqwire_local("amqp/compiled.ini")
        """
    )

    result = shop.runpytest("test_inis.py")

    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*amqp/compiled.ini: publisher_consumer(s) 'orders' use the amqp transport; *"]
    )


def test_the_options_are_in_pytests_help(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")

    result.stdout.fnmatch_lines(
        ["mqwire:", "*--mqwire-amqp-url=URL*", "*--mqwire-management-url=URL*"]
    )


def test_the_plugin_imports_nothing_of_mqwire_until_a_fixture_runs() -> None:
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, mqwire.testing.pytest_plugin\n"
            "print(' '.join(sorted(m for m in sys.modules if m.partition('.')[0] in "
            "('mqwire', 'pika', 'tornado', 'jinja2', 'yaml', 'jsonschema'))))",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split()

    assert loaded == [
        "mqwire",
        "mqwire.testing",
        "mqwire.testing.pytest_plugin",
        "mqwire.topology",
        "mqwire.topology._lazy",
    ]
