"""TLS to a private broker node with a throw-away CA: verified, or refused as a configuration error.

A certificate that does not verify never will by retrying, so it must not look like an outage
(the worker once retried it as "unreachable" and exited 3). URL options that would turn the
check off are refused before any connection is made.
"""

from __future__ import annotations

import os
import pwd
import shutil
import ssl
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pika  # type: ignore[import-untyped]
import pytest
from private_broker import AMQP_PORTS, BASE, PrivateNode, _free_port

from mqwire.runtime.amqp.params import connection_parameters
from mqwire.runtime.errors import ConfigurationError, ExitCode, fatal_error

pytestmark = pytest.mark.private_broker


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(folder: Path, name: str) -> None:
    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-keyout", f"{name}.key", "-out", f"{name}.pem", "-subj", f"/CN=mqwire test {name}",
        cwd=folder,
    )  # fmt: skip


@pytest.fixture(scope="module")
def certificates() -> Iterator[Path]:
    """A CA, a server certificate it signed for ``localhost`` only, and an unrelated CA.

    In a folder the ``rabbitmq`` user can read (a private node reads the server's files).
    """
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    BASE.mkdir(exist_ok=True)
    folder = BASE / f"tls-{uuid.uuid4().hex[:8]}"
    folder.mkdir(mode=0o755)
    try:
        make_ca(folder, "ca")
        make_ca(folder, "other-ca")
        openssl(
            "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key",
            "-out", "server.csr", "-subj", "/CN=localhost", cwd=folder,
        )  # fmt: skip
        (folder / "san.cnf").write_text("subjectAltName=DNS:localhost\n")
        openssl(
            "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "san.cnf",
            cwd=folder,
        )  # fmt: skip
        if os.geteuid() == 0:
            rabbitmq = pwd.getpwnam("rabbitmq")
            for path in [folder, *folder.iterdir()]:
                os.chown(path, rabbitmq.pw_uid, rabbitmq.pw_gid)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def tls_node(certificates: Path) -> Iterator[tuple[PrivateNode, int]]:
    port = _free_port(AMQP_PORTS, set())
    conf = [
        f"listeners.ssl.1 = 127.0.0.1:{port}",
        f"ssl_options.cacertfile = {certificates / 'ca.pem'}",
        f"ssl_options.certfile = {certificates / 'server.pem'}",
        f"ssl_options.keyfile = {certificates / 'server.key'}",
        "ssl_options.verify = verify_none",
        "ssl_options.fail_if_no_peer_cert = false",
    ]
    with PrivateNode("tls", conf) as node:
        yield node, port


def amqps(port: int, ca: Path, host: str = "localhost") -> str:
    options = quote(repr({"ca_certs": str(ca)}), safe="")
    return f"amqps://guest:guest@{host}:{port}/%2F?ssl_options={options}"


def connect(url: str) -> Callable[[], None]:
    def attempt() -> None:
        connection = pika.BlockingConnection(connection_parameters(url, name="mqwire-tls-test"))
        connection.close()

    return attempt


def test_the_right_ca_connects(tls_node: tuple[PrivateNode, int], certificates: Path) -> None:
    _, port = tls_node
    connect(amqps(port, certificates / "ca.pem"))()  # raises if the handshake fails


@pytest.mark.parametrize(
    ("ca", "host", "why"),
    [
        ("other-ca.pem", "localhost", "self-signed certificate in certificate chain"),
        ("ca.pem", "127.0.0.1", "IP address mismatch"),
    ],
)
def test_a_certificate_that_does_not_verify_is_a_configuration_error_not_an_outage(
    tls_node: tuple[PrivateNode, int], certificates: Path, ca: str, host: str, why: str
) -> None:
    _, port = tls_node
    with pytest.raises((pika.exceptions.AMQPConnectionError, ssl.SSLError)) as raised:
        connect(amqps(port, certificates / ca, host))()

    fatal = fatal_error(raised.value, "connecting")

    assert fatal is not None and fatal.exit_code is ExitCode.CONFIG
    assert "TLS certificate failed verification" in str(fatal) and why in str(fatal)


def test_options_that_turn_the_check_off_are_refused_before_connecting(
    certificates: Path,
) -> None:
    """A ``protocol`` other than TLS_CLIENT gives a pika context that verifies nothing.

    (Users write 2, PROTOCOL_TLS, whose deprecation warning this suite turns into an error.)
    """
    unverified = {"ca_certs": str(certificates / "other-ca.pem"), "protocol": 17}  # TLS_SERVER
    options = quote(repr(unverified), safe="")
    url = f"amqps://guest:s3cret@localhost:1/%2F?ssl_options={options}"
    with pytest.raises(ConfigurationError, match="turn off the check") as raised:
        connection_parameters(url, name="t")
    assert "s3cret" not in str(raised.value)


def test_the_worker_sees_a_bad_certificate_through_pikas_connection_workflow() -> None:
    """The asynchronous adapters wrap the handshake's error twice before reporting it."""
    error = ssl.SSLCertVerificationError(1, "certificate verify failed")
    error.verify_message = "self-signed certificate in certificate chain"
    wrapped = pika.adapters.utils.connection_workflow.AMQPConnectionWorkflowFailed(
        [pika.adapters.utils.connection_workflow.AMQPConnectorTransportSetupError(error)]
    )

    fatal = fatal_error(wrapped, "connecting to amqps://broker")

    assert fatal is not None and fatal.exit_code is ExitCode.CONFIG
    assert "self-signed certificate in certificate chain" in str(fatal)
