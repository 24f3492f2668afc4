"""An AMQP URL to pika's connection parameters: one parser for the worker, publishers and mqctl.

A URL's ``ssl_options`` can quietly turn off the check of the broker's certificate: pika builds
its TLS context from them, and a ``protocol`` other than ``PROTOCOL_TLS_CLIENT`` gives one that
verifies nothing (such a URL connected to a broker signed by an unrelated CA). mqwire refuses to
connect without verifying the broker, and says which part of the URL is at fault. A
connection's ``tls:`` (``<prefix>.tls.*``) is the way to give a CA, a client certificate, or an
explicit ``verify: false``; with it, the URL may not have ``ssl_options`` too.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pika  # type: ignore[import-untyped]

from mqwire.topology.amqp_url import split_urls
from mqwire.topology.credentials import mask_resolved_url

from ..errors import ConfigurationError, describe_error, innermost, tls_problem
from ..tls import TlsSettings, client_context, refusal
from ..tls_failures import ended_silently


def scrubber(url: str) -> Callable[[str], str]:
    """Removes the URL's password (as written and decoded) from text pika or the broker wrote;
    each node's, for a cluster's URLs."""
    passwords = {urlsplit(one).password or "" for one in split_urls(url)}
    secrets = sorted(
        {p for password in passwords for p in (password, unquote(password))} - {""},
        key=len,
        reverse=True,
    )

    def scrub(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, "***")
        return text

    return scrub


def connection_parameters(
    url: str,
    *,
    name: str,
    tls: TlsSettings | None = None,
    heartbeat: int | None = None,
    connect_timeout: float | None = None,
) -> Any:
    """``pika.URLParameters`` for ``url``, named ``name`` on the broker's connection list,
    with TLS as ``tls`` says (an ``amqps://`` URL without it: the system's CAs).

    Raises:
        ConfigurationError: the URL is not one pika accepts, its TLS options would not verify
            the broker's certificate and host name, ``tls`` is given for an ``amqp://`` URL
            or a file it names cannot be used; the password is never shown.
    """
    masked = mask_resolved_url(url)
    if tls is not None:
        _check_tls_url(tls, url, masked)  # before pika reads ssl_options (and their files)
    try:
        params = pika.URLParameters(url)
    except Exception as exc:
        raise ConfigurationError(
            f"invalid AMQP URL {masked}: {scrubber(url)(describe_error(exc))}"
        ) from None
    if tls is not None:
        params.ssl_options = pika.SSLOptions(client_context(tls), tls.server_hostname)
    problem = None if tls is not None else unverified_tls(params.ssl_options)
    if problem is not None:
        raise ConfigurationError(f"AMQP URL {masked}: {problem}")
    params.client_properties = {**(params.client_properties or {}), "connection_name": name}
    if connect_timeout is not None:
        params.socket_timeout = params.stack_timeout = connect_timeout
    if heartbeat is not None:
        params.heartbeat = heartbeat
    return params


def _check_tls_url(tls: TlsSettings, url: str, masked: str) -> None:
    """With ``tls``, the URL is ``amqps://`` and leaves TLS to it (no ``ssl_options``)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return  # not a URL at all: pika says so next
    if parts.scheme.lower() != "amqps":
        raise ConfigurationError(
            f"{tls.key} is set, but the URL {masked} is not amqps://: write amqps:// (the "
            "broker's TLS port, 5671 by default), or remove the tls settings"
        )
    if any(key == "ssl_options" for key, _ in parse_qsl(parts.query)):
        raise ConfigurationError(
            f"the URL {masked} has ssl_options, and {tls.key} configures TLS too: remove "
            "ssl_options from the URL"
        )


def tls_refusal(exc: BaseException, params: Any) -> str | None:
    """What is wrong with TLS if that is why connecting with ``params`` failed, or None.

    ``tls_problem`` reads it from ``exc``; a TLS connection that ended without a reason is
    asked again with a probe that cannot lose the broker's alert (``tls.refusal``), which
    blocks for a few seconds: call this off any event loop.
    """
    found = tls_problem(exc)
    options = params.ssl_options
    if found is not None or options is None or not ended_silently(f"{exc} {innermost(exc)}"):
        return found
    name = options.server_hostname or params.host
    return refusal(params.host, params.port, options.context, name, params.socket_timeout)


def unverified_tls(options: Any) -> str | None:
    """Why TLS ``options`` (pika's ``SSLOptions``) would not verify the broker, or None."""
    if options is None:
        return None
    context: ssl.SSLContext = options.context
    if context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname:
        return None
    return (
        "its ssl_options turn off the check of the broker's certificate "
        f"(verify_mode {context.verify_mode.name}, check_hostname {context.check_hostname}): "
        "mqwire does not connect to a broker it cannot verify unless told so: give the "
        "broker's CA as the connection's tls: ca_file instead of ssl_options, or, if you mean "
        "it, tls: {verify: false} (compiled with mq-compile --allow-unverified-tls)"
    )
