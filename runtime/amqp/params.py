"""An AMQP URL to pika's connection parameters: one parser for the worker, publishers and mqctl.

A URL's ``ssl_options`` can quietly turn off the check of the broker's certificate: pika builds
its TLS context from them, and a ``protocol`` other than ``PROTOCOL_TLS_CLIENT`` gives one that
verifies nothing (such a URL connected to a broker signed by an unrelated CA). mqwire refuses to
connect without verifying the broker, and says which part of the URL is at fault.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

import pika  # type: ignore[import-untyped]

from mqwire.topology.credentials import mask_resolved_url

from ..errors import ConfigurationError, describe_error


def scrubber(url: str) -> Callable[[str], str]:
    """Removes the URL's password (as written and decoded) from text pika or the broker wrote."""
    password = urlsplit(url).password or ""
    secrets = sorted({password, unquote(password)} - {""}, key=len, reverse=True)

    def scrub(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, "***")
        return text

    return scrub


def connection_parameters(
    url: str,
    *,
    name: str,
    heartbeat: int | None = None,
    connect_timeout: float | None = None,
) -> Any:
    """``pika.URLParameters`` for ``url``, named ``name`` on the broker's connection list.

    Raises:
        ConfigurationError: the URL is not one pika accepts, or its TLS options would not
            verify the broker's certificate and host name; the password is never shown.
    """
    masked = mask_resolved_url(url)
    try:
        params = pika.URLParameters(url)
    except Exception as exc:
        raise ConfigurationError(
            f"invalid AMQP URL {masked}: {scrubber(url)(describe_error(exc))}"
        ) from None
    problem = unverified_tls(params.ssl_options)
    if problem is not None:
        raise ConfigurationError(f"AMQP URL {masked}: {problem}")
    params.client_properties = {**(params.client_properties or {}), "connection_name": name}
    if connect_timeout is not None:
        params.socket_timeout = params.stack_timeout = connect_timeout
    if heartbeat is not None:
        params.heartbeat = heartbeat
    return params


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
        "mqwire does not connect to a broker it cannot verify; leave 'protocol' out of "
        "ssl_options and give the broker's CA as 'ca_certs'"
    )
