"""The one reading of an AMQP URL that ``mq-compile`` and the runtime share."""

from __future__ import annotations

import pytest

from mqwire.topology.amqp_url import split_urls, topology_url_problems, url_problems


@pytest.mark.parametrize(
    "url",
    [
        "amqp://localhost",
        "amqp://guest:guest@127.0.0.1:5672/%2F",
        "amqps://app:s3cret@rabbit1.internal:5671/prod?heartbeat=30&connection_attempts=3",
        "amqp:///",  # pika's localhost
        "amqp://[::1]:5672/vhost",
    ],
)
def test_urls_pika_can_use_have_no_problem(url: str) -> None:
    assert url_problems(url) == []


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("amqp://h1,h2/prod", "one URL names one node"),
        ("amqp://h1:5672,h2:5672/prod", "Port could not be cast"),
        ("amqp://h/prod/eu", "the path is the vhost, one segment"),
        ("amqp://h/?hearbeat=5", "unknown URL parameter 'hearbeat'"),
        ("amqp://h/?heartbeat=5&heartbeat=6", "'heartbeat' is given twice"),
        ("http://h/", "must start with amqp:// or amqps://"),
        ("amqp://h:0/", "port 0"),
        ("amqp://h/a b", "no blank"),
    ],
)
def test_each_problem_is_named(url: str, problem: str) -> None:
    (found,) = url_problems(url)
    assert problem in found[0]


def test_a_comma_list_is_told_to_become_a_list_of_urls() -> None:
    ((_, hint),) = url_problems("amqp://h1,h2/prod")
    assert hint is not None and "url: [amqp://node1/vhost, amqp://node2/vhost]" in hint


def test_placeholders_stand_for_valid_parts_and_a_whole_url_is_checked_by_its_default() -> None:
    assert topology_url_problems("amqp://${USER}:${PW}@${HOST}:${PORT}/${VHOST}") == []
    assert topology_url_problems("${SCHEME:-amqp}://h/v") == []
    assert topology_url_problems("${AMQP_URL}") == []
    assert topology_url_problems("${AMQP_URL:-amqp://h1,h2/}")[0][0] == "one URL names one node"
    assert topology_url_problems("amqp://${HOST}/a/b")[0][0].startswith("the path is the vhost")


def test_a_setting_holds_one_url_or_one_per_line() -> None:
    assert split_urls("amqp://a/v") == ["amqp://a/v"]
    assert split_urls("\n  amqp://a/v\n  amqp://b/v\n") == ["amqp://a/v", "amqp://b/v"]
    assert split_urls("  ") == []
