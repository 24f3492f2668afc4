"""Checks on a connection's ``tls:``: what it may say, and when it says too little or too much.

A ``verify: false`` is refused unless ``mq-compile --allow-unverified-tls`` accepts it, as a
literal password is refused without ``--allow-literal-password``: both are decisions a reviewer
should see made on purpose. Files are not looked at here: the compiling machine need not have
them (the runtime reads them, and says which key names a missing one).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from .check_state import CheckState
from .errors import PathPart
from .model import UNVERIFIED_RISK
from .placeholder_scan import find_placeholders
from .placeholders import placeholder_problems


def check_tls(checker: CheckState, name: str, connection: Mapping[str, Any]) -> None:
    """Report every problem of connection ``name``'s ``tls:`` (if it has one)."""
    tls = connection.get("tls")
    if not isinstance(tls, Mapping):
        return
    base: tuple[PathPart, ...] = ("connections", name, "tls")
    for key, value in tls.items():
        if isinstance(value, str):
            for problem in placeholder_problems(value):
                checker.error((*base, key), problem)
    url = connection.get("url")
    if isinstance(url, str):
        _check_url(checker, base, url)
    for present, missing in (("cert_file", "key_file"), ("key_file", "cert_file")):
        if present in tls and missing not in tls:
            checker.error(
                (*base, present),
                f"{present} needs {missing}: a client certificate is shown with its private key",
                key=True,
                hint=f"add `{missing}: PATH`, or remove {present}",
            )
    if tls.get("verify") is False and not checker.allow_unverified_tls:
        checker.error(
            (*base, "verify"),
            f"verify: false turns off TLS verification: {UNVERIFIED_RISK}",
            hint="give the broker's CA as ca_file instead, or pass --allow-unverified-tls "
            "if this is intended",
        )


def _check_url(checker: CheckState, base: tuple[PathPart, ...], url: str) -> None:
    """``tls:`` needs an ``amqps://`` URL, and is the only place TLS is configured.

    A URL that starts with a placeholder is checked by the runtime once it is resolved.
    """
    if url.startswith("amqp://"):
        checker.error(
            base,
            "tls: needs an amqps:// URL; this one is amqp://, which would send the credentials "
            "and messages unencrypted",
            key=True,
            hint="write amqps:// (the broker's TLS port, 5671 by default), or remove tls:",
        )
    if _has_ssl_options(url):
        checker.error(
            base,
            "the URL's ssl_options and tls: both configure TLS",
            key=True,
            hint="keep tls: and remove ssl_options from the URL (ca_certs is ca_file, "
            "certfile cert_file, keyfile key_file)",
        )


def _has_ssl_options(url: str) -> bool:
    """Whether the URL's query (placeholders blanked out) names ``ssl_options``."""
    plain = list(url)
    for p in find_placeholders(url):
        plain[p.start : p.end] = " " * (p.end - p.start)
    query = "".join(plain).partition("?")[2].partition("#")[0]
    return any(key.strip() == "ssl_options" for key, _ in parse_qsl(query, keep_blank_values=True))
