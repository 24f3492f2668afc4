"""Why a TLS handshake with the broker failed, said so an operator knows what to change.

Three failures are configuration errors that no retry fixes: the broker's certificate is not
signed by a CA we trust, it is not for the host name we checked, or the broker refused (or
did not get) our client certificate. pika keeps the broker's refusal only as text (a stream
lost during the AMQP handshake, under TLS 1.3), so the OpenSSL reason is read from there.
"""

from __future__ import annotations

import re
import ssl

#: OpenSSL verify codes of a broker certificate no trusted CA signed, and of a wrong name.
_UNTRUSTED = {2, 18, 19, 20, 21}  # no issuer, self-signed (leaf or in chain), no local issuer
_WRONG_NAME = {62, 64}  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH
#: OpenSSL reasons of an alert the broker sends when it refuses our client certificate.
_REFUSED = (
    "TLSV1_ALERT_UNKNOWN_CA",
    "SSLV3_ALERT_BAD_CERTIFICATE",
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
    "SSLV3_ALERT_CERTIFICATE_EXPIRED",
    "SSLV3_ALERT_CERTIFICATE_REVOKED",
    "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE",
    "TLSV1_ALERT_ACCESS_DENIED",
)
#: What to do about each OpenSSL reason of a refused handshake, or a port that is not TLS.
_ALERTS = {
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": "the broker requires a client certificate and was "
    "given none: set tls.cert_file and tls.key_file",
    "SSLV3_ALERT_HANDSHAKE_FAILURE": "the broker ended the TLS handshake: it may require a "
    "client certificate (tls.cert_file and tls.key_file), or share no TLS version with mqwire",
    **dict.fromkeys(
        _REFUSED,
        "the broker refused the client certificate: give one signed by a CA the broker "
        "trusts (tls.cert_file and tls.key_file)",
    ),
    "WRONG_VERSION_NUMBER": "the broker's port does not speak TLS: is it a plain amqp:// "
    "port (5672) rather than the TLS one (5671)?",
}
_ALERT = re.compile(r"\[SSL: ([A-Z0-9_]+)\]")
#: A TLS connection closed or reset with no reason given: maybe a refusal whose alert was lost.
_SILENT = re.compile(r"SSLEOFError|EOF occurred in violation of protocol|ConnectionResetError")


def tls_failure(inner: BaseException, text: str) -> str | None:
    """What to change, if ``inner`` (the innermost error of a failed connect; ``text``, the
    whole error as text) is a TLS failure that retrying cannot fix; else None."""
    if isinstance(inner, ssl.SSLCertVerificationError):
        why = inner.verify_message
        if inner.verify_code in _UNTRUSTED:
            return (
                f"the broker's TLS certificate is not signed by a trusted CA ({why}): give the "
                "CA that signed it as tls.ca_file"
            )
        if inner.verify_code in _WRONG_NAME:
            return (
                f"the broker's TLS certificate is not for the host name checked ({why}): "
                "connect by a name it is for, or set tls.server_hostname to one"
            )
        return f"the broker's TLS certificate failed verification ({why})"
    reason = getattr(inner, "reason", None) if isinstance(inner, ssl.SSLError) else None
    found = _ALERT.search(f"{text} {inner}") if reason is None else None
    reason = reason or (found.group(1) if found else None)
    return _ALERTS.get(reason or "")


def ended_silently(text: str) -> bool:
    """Whether a failed connect (as text) is a TLS stream that ended without saying why.

    Under TLS 1.3 the broker checks our client certificate after the handshake has ended on
    our side, and pika writes AMQP's header at once: when the broker's alert and close cross
    that write, the reset can drop the alert (about 1 connect in 10 on 3.10.8).
    """
    return _SILENT.search(text) is not None
