"""The plugin's broker: which one, whether it answers, and throw-away vhosts on it."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pika  # type: ignore[import-untyped]
import pytest

from mqwire.runtime.errors import ManagementUnavailable
from mqwire.runtime.ops.management_api import ManagementApi, endpoint
from mqwire.testing import TestBroker, throwaway_vhost
from mqwire.testing.broker import DEFAULT_AMQP_URL, vhost_name
from mqwire.testing.pytest_plugin import log_tail


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port nothing listens on (bound, never listened)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        yield probe.getsockname()[1]


def test_the_command_line_wins_over_the_environment_which_wins_over_the_default() -> None:
    env = {"MQWIRE_TEST_AMQP_URL": "amqp://env/", "MQWIRE_TEST_MANAGEMENT_URL": "http://m/"}

    assert TestBroker.chosen("amqp://cli/", None, env) == TestBroker("amqp://cli/", "http://m/")
    assert TestBroker.chosen(None, "http://c/", env) == TestBroker("amqp://env/", "http://c/")
    assert TestBroker.chosen(None, None, {}) == TestBroker(DEFAULT_AMQP_URL, None)


def test_a_vhost_url_keeps_the_credentials_host_and_options_and_quotes_the_name() -> None:
    broker = TestBroker("amqps://app:s%40cret@mq.example:5671/%2F?heartbeat=5")

    assert broker.url_for("a/b c") == "amqps://app:s%40cret@mq.example:5671/a%2Fb%20c?heartbeat=5"


def test_vhost_names_are_unique_and_keep_a_readable_label() -> None:
    first, second = vhost_name("test_x[param/1]"), vhost_name("test_x[param/1]")

    assert first != second
    assert first.startswith("mqwire-test-test_x-param-1-")


def test_an_unreachable_broker_is_named_without_its_password(closed_port: int) -> None:
    problem = TestBroker(f"amqp://app:s3cret@127.0.0.1:{closed_port}/%2F").unreachable()

    assert problem is not None
    assert f"amqp://app:***@127.0.0.1:{closed_port}/%2F" in problem
    assert "s3cret" not in problem


def test_a_listening_broker_is_reachable(amqp_url: str) -> None:
    assert TestBroker(amqp_url).unreachable() is None


@pytest.mark.broker
def test_a_throwaway_vhost_is_usable_then_deleted(amqp_url: str) -> None:
    broker = TestBroker(amqp_url)
    with throwaway_vhost(broker, "plugin-test") as url:
        vhost = url.rsplit("/", 1)[1]
        assert vhost.startswith("mqwire-test-plugin-test-")
        with pika.BlockingConnection(pika.URLParameters(url)) as connection:
            connection.channel().queue_declare("q")  # configure and write rights
        api = ManagementApi(endpoint(url))
        assert "q" in api.queues()
    with pytest.raises(ManagementUnavailable, match="HTTP 404"):
        api.queues()  # the vhost is gone


@pytest.mark.parametrize("ci", ["", "true"])
def test_no_management_api_skips_the_test_or_fails_it_in_ci(
    amqp_url: str, closed_port: int, ci: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", ci)
    broker = TestBroker(amqp_url, management_url=f"http://127.0.0.1:{closed_port}")
    expected = pytest.fail.Exception if ci else pytest.skip.Exception

    with (
        pytest.raises(expected, match="cannot make a throw-away vhost: management API at"),
        throwaway_vhost(broker, "never"),
    ):
        pass


def test_a_log_tail_says_where_the_lines_it_cut_are(tmp_path: Path) -> None:
    log = tmp_path / "mserve.log"
    log.write_text("".join(f"line {n}\n" for n in range(10)))

    assert log_tail(log, lines=3) == f"... 7 line(s) before these: {log}\nline 7\nline 8\nline 9"
    assert log_tail(log, lines=10) == "\n".join(f"line {n}" for n in range(10))
    assert log_tail(tmp_path / "missing.log").startswith("(cannot read")
