"""The ``<prefix>.*`` settings grammar of ``add_publisher_consumer``, read and checked."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from mqwire.runtime.errors import ConfigurationError
from mqwire.runtime.settings import KNOWN_KEYS, PublisherConsumerSettings, read_settings
from mqwire.runtime.tls import TlsSettings
from mqwire.topology.model import Route

AMQP = "mqwire.runtime.publisher.pika_publisher_factory"
CLIENT = "mqwire.runtime.consumer.pika_client_factory"
LOCAL = "mqwire.runtime.publisher.locally_dispatching_publisher_consumer_factory"


def read(
    extra: Mapping[str, str] | None = None, environ: Mapping[str, str] | None = None
) -> PublisherConsumerSettings:
    settings = {"shop.mq": AMQP, **(extra or {})}
    return read_settings(settings, "shop", "shop.mq", environ or {})


def test_every_key_is_read_from_the_lines_a_compiled_ini_writes() -> None:
    settings = read(
        {
            "shop.mq": f"\n{CLIENT}\n{AMQP}",
            "shop.mq.url": "amqp://app:${PW}@mq.example.com/%2F",
            "shop.mq.heartbeat": " 30 ",
            "shop.mq.consumer_timeout": "900",
            "shop.mq.exchange": "shop",
            "shop.mq.routes": "\norders.#:audit\norders.*:orders",
            "shop.mq.queues": "\naudit\norders",
            "shop.mq.continue_on_exception": "true",
            "shop.mq.connection": "main",
        },
        environ={"PW": "s3cret"},
    )

    assert settings == PublisherConsumerSettings(
        name="shop",
        prefix="shop.mq",
        factories=(CLIENT, AMQP),
        url="amqp://app:s3cret@mq.example.com/%2F",
        heartbeat=30,
        consumer_timeout=900.0,
        exchange="shop",
        routes=(Route("orders.#", "audit"), Route("orders.*", "orders")),
        queues=("audit", "orders"),
        continue_on_exception=True,
    )
    assert settings.transport == "amqp"


def test_only_the_factory_list_is_required_and_blank_values_count_as_unset() -> None:
    settings = read({"shop.mq.url": "  ", "shop.mq.heartbeat": "", "shop.mq.routes": " "})

    assert (settings.url, settings.heartbeat, settings.exchange) == (None, None, None)
    assert (settings.routes, settings.queues, settings.continue_on_exception) == ((), (), False)


def test_the_transport_is_local_when_the_local_factory_is_listed() -> None:
    assert read({"shop.mq": LOCAL}).transport == "local"
    assert read({"shop.mq": f"{CLIENT} {AMQP}"}).transport == "amqp"


def test_a_missing_factory_list_is_an_error_naming_the_key_and_an_example() -> None:
    with pytest.raises(ConfigurationError) as raised:
        read_settings({"shop.mq.url": "amqp://h/"}, "shop", "shop.mq", {})

    message = str(raised.value)
    assert "publisher_consumer 'shop'" in message and "no key 'shop.mq'" in message
    assert AMQP in message


def test_an_unknown_key_below_the_prefix_is_reported_with_the_known_ones() -> None:
    with pytest.raises(ConfigurationError) as raised:
        read({"shop.mq.hearbeat": "30", "shop.mq.zz": "1", "shop.mqx": "not below the prefix"})

    message = str(raised.value)
    assert message.startswith("unknown settings key 'shop.mq.hearbeat'")
    assert all(key in message for key in KNOWN_KEYS)


def test_keys_of_other_prefixes_are_none_of_its_business() -> None:
    settings = read({"other.mq": LOCAL, "other.mq.bogus": "x", "shop.mqueue": "y"})

    assert settings.factories == (AMQP,)


@pytest.mark.parametrize(
    ("routes", "expected"),
    [
        ("a:q", (Route("a", "q"),)),
        ("#:all *.created:created", (Route("#", "all"), Route("*.created", "created"))),
        ("a.#:q\na.#:q", (Route("a.#", "q"), Route("a.#", "q"))),
    ],
)
def test_routes_are_pattern_colon_queue_items(routes: str, expected: tuple[Route, ...]) -> None:
    assert read({"shop.mq.routes": routes}).routes == expected


@pytest.mark.parametrize("item", ["orders", "orders:", ":orders", "a.b:q oops"])
def test_a_route_without_pattern_or_queue_is_an_error_showing_the_item(item: str) -> None:
    bad = item.split()[-1]

    with pytest.raises(ConfigurationError) as raised:
        read({"shop.mq.routes": item})

    assert str(raised.value) == f"shop.mq.routes has {bad!r}; each route is written pattern:queue"


@pytest.mark.parametrize(
    ("pattern", "fragment"),
    [("orders.cre*", "mixes a wildcard"), ("orders..x", "empty word"), ("ord$rs", "character")],
)
def test_a_route_whose_pattern_could_never_match_is_an_error(pattern: str, fragment: str) -> None:
    # These used to be accepted and then silently routed nothing on the local transport.
    with pytest.raises(ConfigurationError) as raised:
        read({"shop.mq.routes": f"ok.#:q {pattern}:q"})

    assert str(raised.value).startswith(f"shop.mq.routes has '{pattern}:q': ")
    assert fragment in str(raised.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("yes", True),
        ("on", True),
        ("1", True),
        ("false", False),
        ("No", False),
        ("off", False),
        ("0", False),
    ],
)
def test_continue_on_exception_reads_the_usual_booleans(value: str, expected: bool) -> None:
    assert read({"shop.mq.continue_on_exception": value}).continue_on_exception is expected


@pytest.mark.parametrize("value", ["maybe", "2", "t", "ja"])
def test_continue_on_exception_refuses_anything_else_naming_the_key(value: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        read({"shop.mq.continue_on_exception": value})

    assert str(raised.value) == (
        f"shop.mq.continue_on_exception has value {value!r}; write true or false"
    )


@pytest.mark.parametrize(("value", "expected"), [("0", 0), ("60", 60), ("\t15\n", 15)])
def test_heartbeat_is_an_integer(value: str, expected: int) -> None:
    assert read({"shop.mq.heartbeat": value}).heartbeat == expected


@pytest.mark.parametrize("value", ["30s", "1.5", "thirty", "-3", "1_0", "+5", "٣"])
def test_a_heartbeat_that_is_no_whole_number_is_an_error_naming_the_key(value: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        read({"shop.mq.heartbeat": value})

    assert str(raised.value) == (
        f"shop.mq.heartbeat has value {value!r}; write a whole number of 0 or more"
    )


@pytest.mark.parametrize("value", ["0", "-5", "nan", "inf", "30m"])
def test_a_consumer_timeout_that_is_no_positive_number_is_an_error_naming_the_key(
    value: str,
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        read({"shop.mq.consumer_timeout": value})

    assert str(raised.value) == (
        f"shop.mq.consumer_timeout has value {value!r}; write seconds above 0"
    )


def test_an_empty_factory_list_is_an_error() -> None:
    with pytest.raises(ConfigurationError, match=r"^shop.mq is empty; list its factories"):
        read_settings({"shop.mq": "  "}, "shop", "shop.mq", {})


def test_url_placeholders_are_resolved_from_the_given_environment_only() -> None:
    url = "amqp://app:${PW}@${HOST:-localhost}/%2F"

    assert read({"shop.mq.url": url}, {"PW": "pw"}).url == "amqp://app:pw@localhost/%2F"
    with pytest.raises(ConfigurationError, match=r"^shop.mq.url: .*'PW' is not set"):
        read({"shop.mq.url": url})


def test_masked_url_hides_the_password_but_keeps_user_host_and_vhost() -> None:
    settings = read({"shop.mq.url": "amqp://app:${PW}@mq.example.com:5671/shop"}, {"PW": "s3"})

    assert settings.url == "amqp://app:s3@mq.example.com:5671/shop"
    assert settings.masked_url == "amqp://app:***@mq.example.com:5671/shop"


def test_masked_url_hides_password_query_values_and_says_when_there_is_no_url() -> None:
    # pika refuses a password= parameter (and so does the settings reader): even so, an
    # error naming such a URL must not show it.
    settings = PublisherConsumerSettings(
        "shop", "shop.mq", (AMQP,), url="amqp://h/%2F?password=s3&heartbeat=5"
    )

    assert settings.masked_url == "amqp://h/%2F?password=***&heartbeat=5"
    assert read().masked_url == "(no url)"
    with pytest.raises(ConfigurationError) as raised:
        read({"shop.mq.url": "amqp://h/%2F?password=s3&heartbeat=5"})
    assert "unknown URL parameter 'password'" in str(raised.value)
    assert "s3" not in str(raised.value)


def test_a_broken_placeholder_in_a_url_does_not_show_the_password() -> None:
    with pytest.raises(ConfigurationError) as raised:
        read({"shop.mq.url": "amqp://app:s3cret${X@mq.example.com/"}, {"X": "x"})

    assert "shop.mq.url" in str(raised.value) and "s3cret" not in str(raised.value)


def test_tls_keys_are_resolved_and_relative_paths_are_made_absolute(tmp_path: Path) -> None:
    settings = read_settings(
        {
            "shop.mq": AMQP,
            "shop.mq.tls.ca_file": "${TLS_DIR}/ca.pem",
            "shop.mq.tls.cert_file": "certs/client.pem",
            "shop.mq.tls.key_file": "/srv/tls/$$client.key",
            "shop.mq.tls.server_hostname": "${MQ_NAME:-mq.internal}",
            "shop.mq.tls.verify": "true",
        },
        "shop",
        "shop.mq",
        {"TLS_DIR": "/etc/mq"},
        tmp_path,
    )

    assert settings.tls == TlsSettings(
        "shop.mq.tls",
        ca_file="/etc/mq/ca.pem",
        cert_file=str(tmp_path / "certs/client.pem"),
        key_file="/srv/tls/$client.key",
        server_hostname="mq.internal",
        verify=True,
    )


def test_no_tls_key_means_no_tls_and_verify_alone_means_tls_with_defaults() -> None:
    assert read().tls is None
    assert read({"shop.mq.tls.verify": "false"}).tls == TlsSettings("shop.mq.tls", verify=False)
    assert read({"shop.mq.tls.ca_file": "/ca.pem"}).tls == TlsSettings("shop.mq.tls", "/ca.pem")


def test_a_tls_path_that_resolves_to_nothing_is_unset() -> None:
    tls = read({"shop.mq.tls.ca_file": "${CA:-}", "shop.mq.tls.verify": "true"}).tls

    assert tls == TlsSettings("shop.mq.tls", ca_file=None)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"shop.mq.tls.ca_file": "${TLS_DIR}/ca.pem"}, "shop.mq.tls.ca_file: "),
        ({"shop.mq.tls.verify": "nope"}, "shop.mq.tls.verify has value 'nope'"),
        ({"shop.mq.tls.cert_file": "/c.pem"}, "shop.mq.tls.cert_file is set but shop.mq.tls.key"),
        ({"shop.mq.tls.key_file": "/c.key"}, "shop.mq.tls.key_file is set but shop.mq.tls.cert"),
    ],
)
def test_bad_tls_settings_are_errors_naming_the_key(extra: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        read(extra)

    assert message in str(raised.value)


def test_the_original_add_ons_factory_names_are_read_as_mqwires() -> None:
    original = "altair.mq.publisher.locally_dispatching_publisher_consumer_factory"

    with pytest.warns(DeprecationWarning) as caught:
        settings = read({"shop.mq": f"altair.mq.consumer.pika_client_factory\n{original}"})

    assert settings.factories == (CLIENT, LOCAL)
    assert settings.transport == "local"
    assert [str(w.message) for w in caught] == [
        f"shop.mq: altair.mq.consumer.pika_client_factory is deprecated; write {CLIENT}",
        f"shop.mq: {original} is deprecated; write {LOCAL}",
    ]


def test_a_clusters_urls_are_read_one_per_line_and_masked_one_by_one() -> None:
    settings = read(
        {"shop.mq.url": "\namqp://app:${PW}@rabbit1/prod\namqp://app:${PW}@rabbit2/prod"},
        {"PW": "s3cret"},
    )
    assert settings.urls == ("amqp://app:s3cret@rabbit1/prod", "amqp://app:s3cret@rabbit2/prod")
    assert settings.masked_url == "amqp://app:***@rabbit1/prod, amqp://app:***@rabbit2/prod"
    # A variable may hold the list too, separated by blanks.
    spread = read({"shop.mq.url": "${AMQP_URLS}"}, {"AMQP_URLS": "amqp://r1/v amqp://r2/v"})
    assert spread.urls == ("amqp://r1/v", "amqp://r2/v")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("amqp://app:${PW}@rabbit1,rabbit2/prod", "one URL names one node; list a cluster's"),
        ("amqp://app:${PW}@rabbit1/prod/eu", "the path is the vhost, one segment"),
        ("amqp://rabbit1/prod?hearbeat=5", "unknown URL parameter 'hearbeat'"),
    ],
)
def test_the_runtime_refuses_what_mq_compile_refuses_without_showing_the_password(
    url: str, problem: str
) -> None:
    with pytest.raises(ConfigurationError, match=r"^shop\.mq\.url: ") as raised:
        read({"shop.mq.url": url}, {"PW": "s3cret"})
    assert problem in str(raised.value) and "s3cret" not in str(raised.value)
