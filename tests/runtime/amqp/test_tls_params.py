"""TLS without a broker: the context built from settings, pika's parameters, and how a failed
handshake reads. The handshakes themselves run against a private node in ``test_tls.py``."""

from __future__ import annotations

import ssl
from pathlib import Path

import pika  # type: ignore[import-untyped]
import pytest
from tls_support import Certificates, make_certificates, openssl

from mqwire.runtime.amqp.params import connection_parameters
from mqwire.runtime.errors import ConfigurationError, ExitCode, fatal_error, tls_problem
from mqwire.runtime.tls import TlsSettings, client_context
from mqwire.runtime.tls_failures import ended_silently

KEY = "shop.mq.tls"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))


def tls(certs: Certificates, **overrides: object) -> TlsSettings:
    values: dict[str, object] = {
        "ca_file": str(certs.pem("ca")),
        "cert_file": str(certs.pem("client")),
        "key_file": str(certs.key("client")),
    }
    return TlsSettings(KEY, **{**values, **overrides})  # type: ignore[arg-type]


# -- the context -------------------------------------------------------------------------------


def test_without_settings_the_broker_is_checked_against_the_system_cas() -> None:
    context = client_context(None)

    assert (context.verify_mode, context.check_hostname) == (ssl.CERT_REQUIRED, True)


def test_a_ca_file_is_the_only_ca_trusted(certs: Certificates) -> None:
    context = client_context(tls(certs))

    assert (context.verify_mode, context.check_hostname) == (ssl.CERT_REQUIRED, True)
    subjects = [dict(item[0] for item in ca["subject"]) for ca in context.get_ca_certs()]
    assert subjects == [{"commonName": "mqwire test ca"}]


def test_verify_false_turns_both_checks_off(certs: Certificates) -> None:
    context = client_context(tls(certs, verify=False))

    assert (context.verify_mode, context.check_hostname) == (ssl.CERT_NONE, False)


@pytest.mark.parametrize("key", ["ca_file", "cert_file", "key_file"])
def test_a_missing_file_is_an_error_naming_its_key_and_path(certs: Certificates, key: str) -> None:
    missing = str(certs.folder / "nowhere" / "x.pem")

    with pytest.raises(ConfigurationError) as raised:
        client_context(tls(certs, **{key: missing}))

    assert str(raised.value) == (
        f"{KEY}.{key}: cannot "
        + ("use" if key == "ca_file" else "read")
        + f" {missing}"
        + (" as the CA file" if key == "ca_file" else "")
        + ": No such file or directory"
    )


def test_a_ca_file_without_a_certificate_is_an_error_that_shows_none_of_it(
    certs: Certificates,
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        client_context(tls(certs, ca_file=str(certs.key("client"))))

    message = str(raised.value)
    assert message.startswith(f"{KEY}.ca_file: cannot use {certs.key('client')} as the CA file: ")
    assert "NO_CERTIFICATE_OR_CRL_FOUND" in message
    assert certs.leaks(message) == []


def test_a_key_of_another_certificate_is_an_error(certs: Certificates) -> None:
    with pytest.raises(ConfigurationError) as raised:
        client_context(tls(certs, key_file=str(certs.key("rogue"))))

    assert "the private key does not belong to the certificate" in str(raised.value)
    assert certs.leaks(str(raised.value)) == []


def test_an_encrypted_key_is_an_error_not_a_password_prompt(certs: Certificates) -> None:
    encrypted = certs.folder / "encrypted.key"
    openssl(
        "pkey", "-in", str(certs.key("client")), "-aes256", "-passout", "pass:x",
        "-out", str(encrypted), cwd=certs.folder,
    )  # fmt: skip

    try:
        with pytest.raises(ConfigurationError) as raised:
            client_context(tls(certs, key_file=str(encrypted)))
    finally:
        encrypted.unlink()

    assert "the private key is encrypted; give an unencrypted key file" in str(raised.value)


def test_a_certificate_without_its_key_is_refused_when_read() -> None:
    with pytest.raises(ConfigurationError, match=f"{KEY}.cert_file is set but {KEY}.key_file"):
        TlsSettings(KEY, cert_file="/c.pem")


# -- pika's parameters -------------------------------------------------------------------------


def test_tls_settings_become_pikas_ssl_options(certs: Certificates) -> None:
    params = connection_parameters(
        "amqps://guest:guest@127.0.0.1:5671/%2F", name="t", tls=tls(certs, server_hostname="mq")
    )

    assert params.ssl_options.server_hostname == "mq"
    assert params.ssl_options.context.verify_mode == ssl.CERT_REQUIRED


def test_verify_false_is_honoured_not_refused_like_url_options(certs: Certificates) -> None:
    params = connection_parameters("amqps://h/", name="t", tls=tls(certs, verify=False))

    assert params.ssl_options.context.verify_mode == ssl.CERT_NONE


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("amqp://app:s3cret@h/%2F", f"{KEY} is set, but the URL amqp://app:***@h/%2F is not amqps"),
        (
            "amqps://app:s3cret@h/%2F?ssl_options=%7B%7D",
            f"the URL amqps://app:***@h/%2F?ssl_options=*** has ssl_options, and {KEY}",
        ),
    ],
)
def test_tls_needs_an_amqps_url_without_ssl_options(
    certs: Certificates, url: str, message: str
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        connection_parameters(url, name="t", tls=tls(certs))

    assert str(raised.value).startswith(message)
    assert "s3cret" not in str(raised.value)


# -- reading a failed handshake ----------------------------------------------------------------


def verification_error(code: int, message: str) -> ssl.SSLCertVerificationError:
    error = ssl.SSLCertVerificationError(1, f"certificate verify failed: {message}")
    error.verify_code, error.verify_message = code, message
    return error


def stream_lost(reason: str) -> Exception:
    """What pika reports when the broker refuses the client under TLS 1.3 (seen on 3.10.8):
    the handshake looked done, and the alert arrives as text during the AMQP handshake."""
    text = f"Stream connection lost: SSLError(1, '[SSL: {reason}] alert (_ssl.c:2580)')"
    return pika.exceptions.IncompatibleProtocolError(f"StreamLostError: ({text!r},)")


@pytest.mark.parametrize(
    ("error", "fragment"),
    [
        (
            verification_error(19, "self-signed certificate in certificate chain"),
            "not signed by a trusted CA (self-signed certificate in certificate chain)",
        ),
        (
            verification_error(64, "IP address mismatch, certificate is not valid for '10.0.0.1'."),
            "not for the host name checked (IP address mismatch, certificate is not valid for "
            "'10.0.0.1'.): connect by a name it is for, or set tls.server_hostname",
        ),
        (verification_error(10, "certificate has expired"), "failed verification (certificate"),
        (stream_lost("TLSV13_ALERT_CERTIFICATE_REQUIRED"), "requires a client certificate"),
        (stream_lost("TLSV1_ALERT_UNKNOWN_CA"), "refused the client certificate"),
        (
            ssl.SSLError(1, "[SSL: SSLV3_ALERT_HANDSHAKE_FAILURE] sslv3 alert handshake failure"),
            "may require a client certificate",
        ),
        (ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"), "does not speak"),
    ],
)
def test_a_tls_failure_is_a_fatal_configuration_error(error: Exception, fragment: str) -> None:
    fatal = fatal_error(error, "connecting to amqps://guest:***@broker:5671/%2F")

    assert fatal is not None and fatal.exit_code is ExitCode.CONFIG
    assert str(fatal).startswith("connecting to amqps://guest:***@broker:5671/%2F: ")
    assert fragment in str(fatal)


def test_the_worker_sees_a_bad_certificate_through_pikas_connection_workflow() -> None:
    """The asynchronous adapters wrap the handshake's error twice before reporting it."""
    workflow = pika.adapters.utils.connection_workflow
    wrapped = workflow.AMQPConnectionWorkflowFailed(
        [workflow.AMQPConnectorTransportSetupError(verification_error(20, "no local issuer"))]
    )

    assert "not signed by a trusted CA (no local issuer)" in (tls_problem(wrapped) or "")


@pytest.mark.parametrize(
    "error",
    [
        pika.exceptions.StreamLostError("Stream connection lost: ConnectionResetError(104)"),
        ssl.SSLError(1, "[SSL: DECRYPTION_FAILED_OR_BAD_RECORD_MAC] decryption failed"),
        ConnectionRefusedError(111, "Connection refused"),
    ],
)
def test_other_failures_are_left_to_the_reconnect_loop(error: Exception) -> None:
    assert tls_problem(error) is None
    assert fatal_error(error, "connecting") is None


@pytest.mark.parametrize(
    ("text", "silent"),
    [
        (
            "StreamLostError: Stream connection lost: SSLEOFError(8, 'EOF occurred in violation')",
            True,
        ),
        ("Stream connection lost: ConnectionResetError(104, 'Connection reset by peer')", True),
        ("ConnectionRefusedError(111, 'Connection refused')", False),
        ("[SSL: TLSV1_ALERT_UNKNOWN_CA] tlsv1 alert unknown ca", False),
    ],
)
def test_a_stream_that_ended_without_a_reason_is_told_apart(text: str, silent: bool) -> None:
    """Such an end is asked again by a probe (``test_tls.py``); by itself it is not fatal."""
    assert ended_silently(text) is silent


def test_certificates_are_made_fresh_for_the_tests(certs: Certificates) -> None:
    """The key lines the leak checks look for exist (a check of nothing would pass)."""
    assert len(certs.key_material()) >= 10
    assert certs.leaks(Path(certs.key("client")).read_text()) != []
