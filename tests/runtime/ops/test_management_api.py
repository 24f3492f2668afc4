"""The management API's pure parts: the endpoint a broker URL implies, and binding drift."""

from __future__ import annotations

from mqwire.runtime.ops import admin
from mqwire.runtime.ops.bindings import compare_bindings
from mqwire.runtime.ops.management_api import Endpoint, LiveBinding, endpoint
from mqwire.topology.declarations import (
    BindingDeclaration,
    Declarations,
    ExchangeDeclaration,
)


def test_endpoint_is_derived_from_the_amqp_url() -> None:
    where = endpoint("amqp://app:p%40ss@rabbit.example:5672/%2F")
    assert where == Endpoint("http://rabbit.example:15672", "app", "p@ss", "/")
    assert where.masked == "http://app:***@rabbit.example:15672"
    assert endpoint("amqp://rabbit/shop").vhost == "shop"
    assert endpoint("amqp://rabbit").vhost == "/"
    assert (endpoint("amqp://rabbit").user, endpoint("amqp://rabbit").password) == (
        "guest",
        "guest",
    )
    assert endpoint("amqps://u:p@rabbit/v").base_url == "https://rabbit:15671"


def test_an_explicit_management_url_may_carry_its_own_credentials() -> None:
    amqp = "amqp://app:secret@rabbit:5672/shop"
    same = endpoint(amqp, "https://admin.example/rabbit/")
    assert same == Endpoint("https://admin.example/rabbit", "app", "secret", "shop")
    own = endpoint(amqp, "http://ops:other@127.0.0.1:1")
    assert own == Endpoint("http://127.0.0.1:1", "ops", "other", "shop")
    assert "other" not in own.masked and "secret" not in own.masked


PLAN = Declarations(
    exchanges=(ExchangeDeclaration("ev"),),
    bindings=(BindingDeclaration("a", "ev", "a.#"), BindingDeclaration("b", "ev", "b")),
)


def test_compare_bindings_finds_missing_and_extra_on_topology_exchanges_only() -> None:
    live = [
        LiveBinding("", "a", "a"),  # the default exchange: never compared
        LiveBinding("ev", "a", "a.#"),
        LiveBinding("ev", "a", "surprise"),
        LiveBinding("ev", "other.ex", "x", "exchange"),
        LiveBinding("elsewhere", "b", "b"),  # not a topology exchange
    ]
    found = {f.name: f.state for f in compare_bindings(PLAN, live)}
    assert found == {
        "ev -> a [a.#]": "ok",
        "ev -> a [surprise]": "extra",
        "ev -> b [b]": "missing",
        "ev -> exchange other.ex [x]": "extra",
    }
    assert all(f.kind == "binding" for f in compare_bindings(PLAN, live))
    assert [f.state for f in compare_bindings(PLAN, [])] == ["missing", "missing"]


def test_verify_report_with_the_api_says_what_it_still_cannot_see() -> None:
    findings = [admin.Finding("binding", "ev -> a [a.#]", "ok")]
    text = admin.verify_report(findings, 0, api=True)
    assert "all 1 exchanges, queues and bindings match" in text
    assert text.splitlines()[-1] == f"not checked: {admin.UNCHECKED_WITH_API}"
    extra = admin.Finding("binding", "ev -> a [x]", "extra")
    assert extra.drift
