"""``mqctl apply`` against the real broker, each test in a fresh vhost.

A topology with two routes is deployed, then a version without one: ``apply --prune --yes``
removes the dropped route's binding (its key is then unroutable) and leaves the others. Also:
a dry run and a refused prune change nothing, a task-less queue is declared, a publish before
any deploy names the fix, and mserve's start-up check names a stale binding.
"""

from __future__ import annotations

import io
import logging
import sys
from pathlib import Path

import pika  # type: ignore[import-untyped]
import pytest
import topology_setup as wiring
from pika.exceptions import UnroutableError  # type: ignore[import-untyped]

from mqwire.runtime import PublishConnectionError, load
from mqwire.runtime.ops.management_api import ManagementApi, endpoint
from mqwire.runtime.ops.mqctl import main
from mqwire.runtime.ops.startup_check import check_bindings
from mqwire.topology import delays
from mqwire.topology.declarations import Declarations, ExchangeDeclaration

V1 = """\
version: 1
connections:
  main: {url: "${AMQP_URL}"}
publisher_consumers:
  shop:
    prefix: shop.mq
    transport: amqp
    connection: main
    exchange: shop.events
    routes:
      "orders.#": orders
      "mail.#": mail
queues:
  orders: {consumer: shop}
  mail: {consumer: shop}
  external: {}
tasks:
  orders: {task: "apply_app:noop", queue: orders}
  mail: {task: "apply_app:noop", queue: mail}
delays: true
"""
#: The next version: the route "mail.#" removed.
V2 = V1.replace('      "mail.#": mail\n', "")
STALE = ("shop.events", "mail", "mail.#")
#: The delay ladder's binding for it, as stale as it is.
FOREIGN_DELAYED = (delays.DELIVERY_EXCHANGE, "external", delays.delivery_pattern("billing", "#"))
STALE_DELAYED = (delays.DELIVERY_EXCHANGE, "mail", delays.delivery_pattern("shop.events", "mail.#"))


@pytest.fixture
def versions(
    tmp_path: Path, fresh_vhost_url: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, Path]:
    """V1 and V2 compiled (not declared); their task module importable."""
    (tmp_path / "apply_app.py").write_text("def noop(context, request):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("AMQP_URL", fresh_vhost_url)
    return wiring.compile_into(tmp_path / "v1", V1), wiring.compile_into(tmp_path / "v2", V2)


def mqctl(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    old, sys.stdin = sys.stdin, io.StringIO("y\n")  # not a TTY: an answer nobody may give
    try:
        code = main([*args])
    finally:
        sys.stdin = old
    out, err = capsys.readouterr()
    return code, out, err


def bindings(url: str) -> set[tuple[str, str, str]]:
    live = ManagementApi(endpoint(url)).bindings()
    return {(b.exchange, b.destination, b.routing_key) for b in live if b.exchange}


def mandatory_publish(url: str, routing_key: str) -> bool:
    """Whether the broker routed a mandatory publish on shop.events (False: returned)."""
    with pika.BlockingConnection(pika.URLParameters(url)) as connection:
        channel = connection.channel()
        channel.confirm_delivery()
        try:
            channel.basic_publish("shop.events", routing_key, b"{}", mandatory=True)
        except UnroutableError:
            return False
        return True


@pytest.mark.broker
def test_apply_then_prune_removes_the_dropped_route_and_nothing_else(
    versions: tuple[Path, Path],
    fresh_vhost_url: str,
    management: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    v1, v2 = versions
    # the web app, deployed before anything declared the topology
    with load(v1) as registry, pytest.raises(PublishConnectionError) as raised:
        registry.publisher("shop").publish({"id": 1}, routing_key="orders.new")
    assert "'shop.events' does not exist on the broker" in str(raised.value)
    assert "mqctl CONFIG apply" in str(raised.value) and "may have" not in str(raised.value)

    code, out, _ = mqctl(capsys, str(v1), "apply")
    assert code == 0, out
    assert "exchange shop.events: new topic exchange" in out
    assert "queue external: new queue" in out  # no task, no consumer: declared all the same
    assert "binding shop.events -> mail [mail.#]: new binding" in out
    # and the delay ladder: 22 exchanges, 21 queues, 2 bindings per level, and 4 + 3 on
    # its delivery exchange (one per binding, one per queue)
    assert "created 23 exchanges, 27 queues, 53 bindings; 0 already there" in out
    with pika.BlockingConnection(pika.URLParameters(fresh_vhost_url)) as connection:
        # another topology's delayed route, on the delay ladder every topology shares
        connection.channel().queue_bind("external", *FOREIGN_DELAYED[::2])
    before = bindings(fresh_vhost_url)
    assert STALE in before and mandatory_publish(fresh_vhost_url, "mail.weekly")

    code, out, _ = mqctl(capsys, str(v2), "apply", "--prune", "--dry-run")
    assert code == 0 and "dry run: nothing was changed" in out
    assert "\n  binding shop.events -> mail [mail.#]: not in the topology" in out
    code, out, err = mqctl(capsys, str(v2), "apply", "--prune")  # stdin is no TTY, no --yes
    assert code == 7 and "give --yes. Nothing was changed" in err
    assert bindings(fresh_vhost_url) == before

    code, out, _ = mqctl(capsys, str(v2), "apply", "--prune", "--yes")
    assert code == 0 and "removed 2 binding" in out
    assert bindings(fresh_vhost_url) == before - {STALE, STALE_DELAYED}  # FOREIGN_DELAYED kept
    assert not mandatory_publish(fresh_vhost_url, "mail.weekly")  # returned: unroutable
    assert mandatory_publish(fresh_vhost_url, "orders.new")
    assert mandatory_publish(fresh_vhost_url, "mail")  # the queue's own-name binding stays
    with pika.BlockingConnection(pika.URLParameters(fresh_vhost_url)) as connection:
        channel = connection.channel()
        assert channel.queue_declare("external", passive=True).method.message_count == 0
    code, out, _ = mqctl(capsys, str(v2), "verify")
    assert code == 0, out


@pytest.mark.broker
def test_prune_without_the_management_api_fails_and_changes_nothing(
    versions: tuple[Path, Path],
    fresh_vhost_url: str,
    management: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    v1, v2 = versions
    assert mqctl(capsys, str(v1), "apply")[0] == 0
    before = bindings(fresh_vhost_url)
    for option in (["--management-url", "http://guest:s3cret@127.0.0.1:1"], ["--no-management"]):
        code, out, err = mqctl(capsys, str(v2), "apply", "--prune", "--yes", *option)
        assert code == 2 and "apply --prune needs the management API" in err, err
        assert "Nothing was changed" in err and "s3cret" not in out + err
    assert bindings(fresh_vhost_url) == before


@pytest.mark.broker
def test_a_queue_held_with_other_arguments_stops_apply_before_any_change(
    versions: tuple[Path, Path], fresh_vhost_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pika.BlockingConnection(pika.URLParameters(fresh_vhost_url)) as connection:
        connection.channel().queue_declare("orders", durable=True, arguments={"x-max-priority": 5})

    code, out, err = mqctl(capsys, str(versions[0]), "apply", "--no-management")

    assert code == 4 and "queue orders: exists with other arguments" in out
    assert "nothing was changed" in err
    connection = pika.BlockingConnection(pika.URLParameters(fresh_vhost_url))
    with connection, pytest.raises(pika.exceptions.ChannelClosedByBroker):
        connection.channel().exchange_declare("shop.events", passive=True)


@pytest.mark.broker
def test_mserves_start_up_check_names_a_stale_binding(
    fresh_vhost_url: str, management: str, caplog: pytest.LogCaptureFixture
) -> None:
    plan = Declarations(exchanges=(ExchangeDeclaration("shop.events"),))
    with pika.BlockingConnection(pika.URLParameters(fresh_vhost_url)) as connection:
        channel = connection.channel()
        channel.exchange_declare("shop.events", "topic", durable=True)
        channel.queue_declare("mail", durable=True)
        channel.queue_bind("mail", "shop.events", "mail.#")
    log = logging.getLogger("test.startup_check")
    caplog.set_level(logging.DEBUG, log.name)

    check_bindings("shop", fresh_vhost_url, plan, log)
    elsewhere = fresh_vhost_url.replace(":5672/", ":5999/")  # no management API known there
    check_bindings("shop", elsewhere, plan, log)

    warning, info = caplog.records
    assert warning.levelno == logging.WARNING
    assert "shop.events -> mail [mail.#]" in warning.getMessage()
    assert "mqctl CONFIG apply --prune" in warning.getMessage()
    assert info.levelno == logging.INFO and "could not check" in info.getMessage()
