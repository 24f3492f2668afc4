"""TLS to the broker: one ``ssl.SSLContext`` from a connection's ``<prefix>.tls.*`` settings.

The worker, the publisher, ``mqctl`` and its management API client build their context here,
so all verify alike: the broker's certificate against ``tls.ca_file`` (or the system's CAs),
its host name (the URL's, or ``tls.server_hostname``), and a client certificate when
``tls.cert_file`` and ``tls.key_file`` name one. The files are read here, when a process
starts, never at compile time; an error names the settings key and the path, never a file's
contents. How a handshake that fails is reported is ``errors.tls_problem``'s business.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass

from mqwire.topology.model import UNVERIFIED_RISK

from .errors import ConfigurationError
from .tls_failures import tls_failure

#: Seconds ``refusal`` waits for the broker's word after its handshake; one that accepts us
#: says nothing (it waits for AMQP's header), one that refuses our certificate answers at once.
PROBE_WAIT = 2.0


@dataclass(frozen=True)
class TlsSettings:
    """A connection's ``tls:``, placeholders resolved and paths absolute.

    ``key`` is where the settings came from (``shop.mq.tls``), for error messages.
    """

    key: str
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    server_hostname: str | None = None
    verify: bool = True

    def __post_init__(self) -> None:
        for present, missing in (("cert_file", "key_file"), ("key_file", "cert_file")):
            if getattr(self, present) and not getattr(self, missing):
                raise ConfigurationError(
                    f"{self.key}.{present} is set but {self.key}.{missing} is not: a client "
                    "certificate needs its private key"
                )

    @property
    def unverified_warning(self) -> str | None:
        """What to log once at start-up when ``verify`` is off, else None."""
        if self.verify:
            return None
        return f"{self.key}.verify is false: {UNVERIFIED_RISK}"


def client_context(tls: TlsSettings | None) -> ssl.SSLContext:
    """The context for a TLS connection to the broker; ``None``: the system's CAs only.

    Raises:
        ConfigurationError: a file is missing, unreadable or not what its key says, naming
            the key and the path.
    """
    if tls is None or not tls.ca_file:
        context = ssl.create_default_context()  # TLS client: CERT_REQUIRED, check_hostname
    else:
        context = _with_ca(tls, tls.ca_file)
    if tls is None:
        return context
    if tls.cert_file and tls.key_file:
        _load_client_certificate(context, tls, tls.cert_file, tls.key_file)
    if not tls.verify:  # explicitly allowed at compile time, and warned about at start-up
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def refusal(
    host: str, port: int, context: ssl.SSLContext, server_hostname: str, timeout: float
) -> str | None:
    """What the broker refuses about our TLS (its certificate's check included), or None.

    Opens a TLS connection, writes nothing and reads: without a write of ours to reset the
    connection, a broker that refuses our client certificate is always heard saying so.
    Blocks up to ``timeout`` plus ``PROBE_WAIT`` seconds: call it off any event loop.
    """
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=server_hostname) as tls,
        ):
            tls.settimeout(PROBE_WAIT)
            tls.recv(1)
    except ssl.SSLError as exc:
        return tls_failure(exc, str(exc))
    except OSError:  # no answer in time (accepted), or no connection: nothing to say
        return None
    return None


def _with_ca(tls: TlsSettings, path: str) -> ssl.SSLContext:
    """A client context trusting only the CA(s) in ``path`` (not the system's)."""
    try:
        return ssl.create_default_context(cafile=path)
    except OSError as exc:  # ssl.SSLError too: a file that holds no certificate
        raise ConfigurationError(
            f"{tls.key}.ca_file: cannot use {path} as the CA file: {_reason(exc)}"
        ) from None


def _load_client_certificate(
    context: ssl.SSLContext, tls: TlsSettings, cert_file: str, key_file: str
) -> None:
    for name, path in (("cert_file", cert_file), ("key_file", key_file)):
        try:
            with open(path, "rb"):
                pass  # a missing file is named by its own key; the ssl module would not say
        except OSError as exc:
            raise ConfigurationError(
                f"{tls.key}.{name}: cannot read {path}: {_reason(exc)}"
            ) from None
    try:
        context.load_cert_chain(cert_file, key_file, password=_no_password)
    except (OSError, ValueError) as exc:
        raise ConfigurationError(
            f"{tls.key}.cert_file and .key_file: {cert_file} and {key_file} are not a PEM "
            f"certificate and its unencrypted private key: {_reason(exc)}"
        ) from None


def _no_password() -> str:
    """Called only for an encrypted key: OpenSSL would otherwise prompt on the terminal."""
    raise ValueError("the private key is encrypted; give an unencrypted key file")


def _reason(exc: BaseException) -> str:
    """The cause without a traceback's noise, and never any of the file's contents."""
    if isinstance(exc, ssl.SSLError):
        if exc.reason == "KEY_VALUES_MISMATCH":
            return "the private key does not belong to the certificate"
        return f"{exc.reason or 'not PEM'} ({exc.library or 'SSL'})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)
