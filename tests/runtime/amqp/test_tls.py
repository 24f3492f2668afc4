"""TLS to a private node that verifies clients, with a throw-away CA: verified, or a clear error.

The node (``verify_peer``, ``fail_if_no_peer_cert``) listens for AMQP and for its management API
over TLS with a server certificate for ``localhost`` only. With the right CA and client
certificate, ``mserve`` consumes, a publisher publishes with confirms and ``mqctl`` reads the
queues, management API included. An unknown CA, a wrong host name, a missing or refused client
certificate can never succeed by retrying: each is a configuration error (exit 2) that ``mserve``
reports within its connect timeout instead of retrying as "unreachable", that ``publish()``
raises as ``PublishTlsError`` and that ``mqctl`` reports as exit 2. No private key shows in any
log, message or compiled file.
"""

from __future__ import annotations

import contextlib
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote

import pika  # type: ignore[import-untyped]
import pytest
import topology_setup as wiring
from mserve_harness import (
    CHECKED_SCHEMA,
    Mserve,
    all_done,
    publish_ids,
    topology,
    wait_until,
)
from private_broker import AMQP_PORTS, BASE, MANAGEMENT_PORTS, PrivateNode, _free_port
from tls_support import Certificates, make_certificates, readable_by_rabbitmq

from mqwire.compiler.cli import main as mq_compile
from mqwire.runtime import PublishTlsError, Registry, load
from mqwire.runtime.amqp.params import connection_parameters, tls_refusal
from mqwire.runtime.amqp.schedule_lock import BrokerLock
from mqwire.runtime.errors import ConfigurationError, ExitCode
from mqwire.runtime.ops.mqctl import main as mqctl
from mqwire.runtime.tls import TlsSettings

pytestmark = pytest.mark.private_broker

#: pika's whole-connect timeout (the worker sets no other): a refused handshake must end
#: mserve within it (plus the interpreter's start), not after --max-unreachable.
CONNECT_TIMEOUT = pika.ConnectionParameters.DEFAULT_STACK_TIMEOUT
START_ALLOWANCE = 10.0
MAX_UNREACHABLE = "120"

#: The client side of each case: the ``tls:`` of the topology, and the host the URL names.
GOOD = (
    '{ca_file: "${TLS_DIR}/ca.pem", cert_file: "${TLS_DIR}/client.pem", '
    'key_file: "${TLS_DIR}/client.key", server_hostname: localhost}'
)
FAILURES = {
    "unknown CA": (
        GOOD.replace("/ca.pem", "/other-ca.pem"),
        "the broker's TLS certificate is not signed by a trusted CA (self-signed certificate in "
        "certificate chain): give the CA that signed it as tls.ca_file",
    ),
    "wrong host name": (
        GOOD.replace(", server_hostname: localhost", ""),
        "the broker's TLS certificate is not for the host name checked (IP address mismatch, "
        "certificate is not valid for '127.0.0.1'.)",
    ),
    "wrong server_hostname": (
        GOOD.replace("server_hostname: localhost", "server_hostname: rabbit.example"),
        "the broker's TLS certificate is not for the host name checked (Hostname mismatch, "
        "certificate is not valid for 'rabbit.example'.)",
    ),
    "missing client certificate": (
        '{ca_file: "${TLS_DIR}/ca.pem", server_hostname: localhost}',
        "the broker requires a client certificate and was given none: set tls.cert_file and "
        "tls.key_file",
    ),
    "refused client certificate": (
        GOOD.replace("/client.", "/rogue."),
        "the broker refused the client certificate: give one signed by a CA the broker trusts",
    ),
}


@dataclass(frozen=True)
class TlsNode:
    node: PrivateNode
    port: int  #: AMQP over TLS
    management_port: int  #: the management API over https

    def urls(self) -> tuple[str, str]:
        """A fresh vhost: its amqps:// URL (by IP address) and its plain one, for inspection."""
        plain = self.node.add_vhost(f"tls-{uuid.uuid4().hex[:8]}")
        vhost = plain.rsplit("/", 1)[1]
        return f"amqps://guest:guest@127.0.0.1:{self.port}/{vhost}", plain


@pytest.fixture(scope="module")
def certs() -> Iterator[Certificates]:
    """In a folder the ``rabbitmq`` user can read (the node reads the server's files)."""
    BASE.mkdir(exist_ok=True)
    folder = BASE / f"tls-{uuid.uuid4().hex[:8]}"
    folder.mkdir(mode=0o755)
    try:
        certificates = make_certificates(folder)
        readable_by_rabbitmq(folder)
        yield certificates
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def tls_node(
    private_nodes_available: None, certs: Certificates, request: pytest.FixtureRequest
) -> TlsNode:
    port, management_port = _free_port(AMQP_PORTS, set()), _free_port(MANAGEMENT_PORTS, set())
    files = [
        f"cacertfile = {certs.pem('ca')}",
        f"certfile = {certs.pem('server')}",
        f"keyfile = {certs.key('server')}",
    ]
    conf = [
        f"listeners.ssl.default = 127.0.0.1:{port}",
        *(f"ssl_options.{line}" for line in files),
        "ssl_options.verify = verify_peer",
        "ssl_options.fail_if_no_peer_cert = true",
        f"management.ssl.port = {management_port}",
        "management.ssl.ip = 127.0.0.1",
        *(f"management.ssl.{line}" for line in files),
    ]
    node = PrivateNode("tls", conf, management=True)
    request.addfinalizer(node.stop)
    node.start()
    return TlsNode(node, port, management_port)


@pytest.fixture
def project(tmp_path: Path, certs: Certificates, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder for the topology; ``TLS_DIR`` names the certificates for every process."""
    (tmp_path / "checked.json").write_text(CHECKED_SCHEMA)
    monkeypatch.setenv("TLS_DIR", str(certs.folder))
    return tmp_path


def compile_tls(project: Path, tls: str, *flags: str) -> int:
    """Write the mserve test topology with ``tls`` on its connection; ``mq-compile`` it."""
    line = '  main: {url: "${AMQP_URL}", heartbeat: 30}\n'
    text = topology(30)
    assert line in text
    tls_line = f'  main:\n    url: "${{AMQP_URL}}"\n    heartbeat: 30\n    tls: {tls}\n'
    (project / "topology.yaml").write_text(text.replace(line, tls_line))
    return mq_compile([str(project / "topology.yaml"), "--no-import", *flags])


def load_tls(project: Path, url: str, certs: Certificates) -> Registry:
    return load(project / "compiled.ini", environ={"AMQP_URL": url, "TLS_DIR": str(certs.folder)})


@contextlib.contextmanager
def serving(
    mserve: Callable[..., Mserve], project: Path, url: str, plain: str, certs: Certificates
) -> Iterator[tuple[Registry, Mserve]]:
    """The compiled topology loaded and declared, and ``mserve`` consuming it over ``url``;
    stopped with SIGTERM at the end (its exit code is then ``worker.process.returncode``)."""
    registry = load_tls(project, url, certs)
    wiring.declare(plain, registry)
    worker = mserve(project / "compiled.ini", url)  # consuming over TLS once it returns
    try:
        yield registry, worker
    finally:
        registry.close()
        worker.signal()
        worker.wait()


def run_tasks(registry: Registry, project: Path, count: int) -> None:
    sent = publish_ids(registry, "fast", range(count))  # each confirmed, or it raises
    wait_until(all_done(project / "records.txt", sent), timeout=30, what="the tasks to run")


def assert_no_key_material(certs: Certificates, *texts: str) -> None:
    for text in texts:
        assert certs.leaks(text) == []


def test_worker_publisher_and_mqctl_work_with_the_right_ca_and_client_certificate(
    tls_node: TlsNode,
    certs: Certificates,
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    mserve: Callable[..., Mserve],
) -> None:
    url, plain = tls_node.urls()
    assert compile_tls(project, GOOD) == 0
    with serving(mserve, project, url, plain, certs) as (registry, worker):
        run_tasks(registry, project, 20)
        connections = tls_node.node.ctl(
            "list_connections", "--no-table-headers", "ssl", "peer_cert_subject", "vhost",
            "client_properties",
        )  # fmt: skip
        ours = [line for line in connections.splitlines() if plain.rsplit("/", 1)[1] in line]
        assert all(line.startswith("true\tCN=mqwire-test-client\t") for line in ours), ours
        named = {name for line in ours for name in ("mserve:work", "mqwire-publisher:work")
                 if f'{{"connection_name","{name}"}}' in line}  # fmt: skip
        assert named == {"mserve:work", "mqwire-publisher:work"}, ours

        monkeypatch.setenv("AMQP_URL", url)
        argv = [str(project / "compiled.ini"), "queues", "--management-url"]
        argv.append(f"https://127.0.0.1:{tls_node.management_port}")

        def queues_row() -> tuple[list[str], str, str] | None:
            """mqctl's row for ``fast`` once the API has figures for it (they lag)."""
            capsys.readouterr()
            assert mqctl(argv) == 0
            out, err = capsys.readouterr()
            assert "not using the management API" not in err, err  # https, checked, answered
            row = next(line.split() for line in out.splitlines() if line.startswith("fast "))
            return (row, out, err) if row[3] != "n/a" else None

        row, out, err = wait_until(queues_row, timeout=30, what="the management API's figures")
        assert row[2:] == ["0", "0", "1"]  # ready, unacked (from the https API), consumers
    assert worker.process.returncode == ExitCode.OK, worker.output()
    compiled = [p.read_text() for p in project.glob("compiled*")]
    assert_no_key_material(certs, worker.output(), out, err, *compiled)


@pytest.mark.parametrize("case", sorted(FAILURES))
def test_a_tls_failure_is_fatal_at_once_for_the_worker_the_publisher_and_mqctl(
    tls_node: TlsNode,
    certs: Certificates,
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    case: str,
    mserve: Callable[..., Mserve],
) -> None:
    tls, why = FAILURES[case]
    url, _ = tls_node.urls()
    masked = url.replace("guest:guest@", "guest:***@")
    assert compile_tls(project, tls) == 0
    ini = project / "compiled.ini"

    started = time.monotonic()
    worker = mserve(ini, url, "--max-unreachable", MAX_UNREACHABLE, wait=False)
    code = worker.wait(timeout=float(MAX_UNREACHABLE))
    took = time.monotonic() - started
    log = worker.output()
    with capsys.disabled():  # the figure, with pytest -s
        print(f"\n{case}: mserve exited {code} after {took:.1f} s", end=" ")
    assert code == ExitCode.CONFIG, log
    assert took < CONNECT_TIMEOUT + START_ALLOWANCE, log  # no reconnect loop
    assert f"connecting to {masked}: {why}" in log
    assert "retrying in" not in log and "unreachable" not in log

    registry = load_tls(project, url, certs)
    try:
        with pytest.raises(PublishTlsError) as raised:
            registry.publisher("work").publish({"id": 1}, routing_key="fast")
    finally:
        registry.close()
    assert f"could not connect to {masked}: {why}" in str(raised.value)
    assert not raised.value.outcome_unknown

    monkeypatch.setenv("AMQP_URL", url)
    capsys.readouterr()
    assert mqctl([str(ini), "queues", "--no-management"]) == ExitCode.CONFIG
    out, err = capsys.readouterr()
    assert f"mqctl: error: {masked}: {why}" in err
    assert_no_key_material(certs, log, str(raised.value), out, err, ini.read_text())


def test_verify_false_needs_the_flag_then_connects_to_a_broker_it_cannot_verify(
    tls_node: TlsNode, certs: Certificates, project: Path, capsys: pytest.CaptureFixture[str],
    mserve: Callable[..., Mserve],
) -> None:  # fmt: skip
    """No CA but the system's, an IP address the certificate is not for: only the client
    certificate (which the broker requires) is given."""
    url, plain = tls_node.urls()
    tls = '{cert_file: "${TLS_DIR}/client.pem", key_file: "${TLS_DIR}/client.key", verify: false}'

    assert compile_tls(project, tls) == 2
    assert "pass --allow-unverified-tls" in capsys.readouterr().err
    assert not (project / "compiled.ini").exists()
    assert compile_tls(project, tls, "--allow-unverified-tls") == 0

    with serving(mserve, project, url, plain, certs) as (registry, worker):
        run_tasks(registry, project, 3)
    warnings = [line for line in worker.output().splitlines() if "tls.verify is false" in line]
    assert len(warnings) == 1 and " WARNING mqwire.tls: " in warnings[0], worker.output()


def test_url_ssl_options_still_connect_and_are_refused_when_they_would_not_verify(
    tls_node: TlsNode, certs: Certificates
) -> None:
    """Before ``tls:``, a URL's ``ssl_options`` was the way; it keeps working, checked."""
    url, _ = tls_node.urls()
    options = {
        "ca_certs": str(certs.pem("ca")),
        "certfile": str(certs.pem("client")),
        "keyfile": str(certs.key("client")),
        "server_hostname": "localhost",
    }
    with pytest.raises(ConfigurationError, match="turn off the check"):
        unverified = quote(repr({**options, "protocol": 17}), safe="")  # PROTOCOL_TLS_SERVER
        connection_parameters(f"{url}?ssl_options={unverified}", name="t")

    verified = quote(repr(options), safe="")
    params = connection_parameters(f"{url}?ssl_options={verified}", name="mqwire-tls-test")
    connection = pika.BlockingConnection(params)
    try:
        connection.channel().queue_declare("", exclusive=True)
    finally:
        connection.close()


def silently_lost() -> Exception:
    """How pika reports, now and then (seen 8 times in 80), a refusal whose alert was lost:
    the broker's close crossed pika's first write, and the reset dropped the alert."""
    eof = "SSLEOFError(8, 'EOF occurred in violation of protocol (_ssl.c:2427)')"
    return pika.exceptions.IncompatibleProtocolError(
        f'StreamLostError: ("Stream connection lost: {eof}",)'
    )


@pytest.mark.parametrize(
    ("client", "why"),
    [
        ("rogue", "the broker refused the client certificate"),
        (None, "the broker requires a client certificate and was given none"),
        ("client", None),  # accepted: a connection that ended silently is retried as before
    ],
)
def test_a_tls_connection_that_ended_silently_is_asked_again_by_a_probe(
    tls_node: TlsNode, certs: Certificates, client: str | None, why: str | None
) -> None:
    url, _ = tls_node.urls()
    files = {"cert_file": str(certs.pem(client)), "key_file": str(certs.key(client))}
    tls = TlsSettings(
        "t.tls", ca_file=str(certs.pem("ca")), server_hostname="localhost",
        **(files if client else {}),
    )  # fmt: skip
    params = connection_parameters(url, name="t", tls=tls)

    refused = tls_refusal(silently_lost(), params)

    if why is None:
        assert refused is None
    else:
        assert refused is not None and refused.startswith(why)


def test_the_scheduler_lock_connects_with_the_same_tls_and_refuses_what_cannot_verify(
    tls_node: TlsNode, certs: Certificates
) -> None:
    """``mserve --schedules`` holds its lock on its own connection: the same settings apply."""
    url, _ = tls_node.urls()
    good = TlsSettings(
        "t.tls", str(certs.pem("ca")), str(certs.pem("client")), str(certs.key("client")),
        server_hostname="localhost",
    )  # fmt: skip
    lock = BrokerLock(url, "sched.lock", tls=good)
    try:
        assert lock.try_acquire()
    finally:
        lock.release()

    unknown_ca = BrokerLock(
        url, "sched.lock", tls=replace(good, ca_file=str(certs.pem("other-ca")))
    )
    with pytest.raises(ConfigurationError, match="not signed by a trusted CA"):
        unknown_ca.try_acquire()
