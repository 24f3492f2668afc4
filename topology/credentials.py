"""Passwords in AMQP URLs: refuse literal ones in a committed topology, and mask them in logs.

A topology is reviewed and committed, so its URLs take passwords from placeholders (see
:mod:`.placeholders`); this module finds what a URL writes literally anyway.

URLs are read the way that hides the most: the userinfo of ``scheme://user:password@host``
runs to the last ``@`` before whitespace, so a password with an unencoded ``/``, ``?``,
``#`` or ``@`` is still treated as a password (percent-encode an ``@`` in a vhost as
``%40``). Placeholders count as opaque text, so a ``:`` or ``@`` in a default never
splits the surrounding URL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple
from urllib.parse import unquote, urlsplit, urlunsplit

from .placeholder_scan import Placeholder, find_placeholders

#: Stands in for a placeholder when reading URL structure, keeping offsets unchanged.
_FILLER = "\x00"
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z0-9+.\-\x00]*)://(?P<user>[^:@/\s]*):(?P<password>\S*)@")
_QUERY_PASSWORD = re.compile(r"[?&;]password=(?P<password>[^&#;\s]*)", re.IGNORECASE)

#: RabbitMQ's built-in account; the broker accepts it over loopback only, so it is no secret.
_GUEST = "guest"
_MASK = "***"

Span = tuple[int, int]


class _Credential(NamedTuple):
    """A password found in a URL; spans are offsets in the text given to _credentials."""

    value: Span
    #: Parts written literally: text outside placeholders and placeholder defaults.
    secrets: tuple[Span, ...]
    #: The password with every placeholder replaced by its default ("" without one).
    fallback: str
    #: Whether the password has a placeholder without default (its value comes from outside).
    required: bool
    #: The placeholder that is the whole password, if any.
    holder: str | None
    #: The user as written (None for a ``password`` query parameter).
    user: str | None
    user_literal: bool
    scheme: str
    #: The placeholder whose default holds this URL, if any.
    inside: str | None


def _in_a_password(credentials: Iterable[_Credential], start: int, end: int) -> bool:
    return any(c.value[0] <= start and end <= c.value[1] for c in credentials)


def _credentials(text: str, base: int = 0, inside: str | None = None) -> list[_Credential]:
    """Passwords in ``text`` (offsets shifted by ``base``), also inside placeholder defaults."""
    placeholders = find_placeholders(text)
    skeleton = list(text)
    for p in placeholders:
        skeleton[p.start : p.end] = _FILLER * (p.end - p.start)
    plain = "".join(skeleton)

    def credential(
        match: re.Match[str], user: str | None, user_literal: bool, scheme: str
    ) -> _Credential:
        return _credential(
            text,
            placeholders,
            match.span("password"),
            user=user,
            user_literal=user_literal,
            scheme=scheme,
            base=base,
            inside=inside,
        )

    found: list[_Credential] = []
    for match in _USERINFO.finditer(plain):
        user = text[match.start("user") : match.end("user")]
        scheme = text[match.start("scheme") : match.end("scheme")]
        found.append(credential(match, user, _FILLER not in match["user"], scheme))
    for match in _QUERY_PASSWORD.finditer(plain):
        found.append(credential(match, None, True, ""))
    for p in placeholders:
        if p.default and not _in_a_password(found, p.start + base, p.end + base):
            found.extend(_credentials(p.default, base + p.end - 1 - len(p.default), p.name))
    return found


def _credential(
    text: str,
    placeholders: Sequence[Placeholder],
    value: Span,
    *,
    user: str | None,
    user_literal: bool,
    scheme: str,
    base: int,
    inside: str | None,
) -> _Credential:
    start, end = value
    parts = [p for p in placeholders if start <= p.start and p.end <= end]
    secrets: list[Span] = []
    fallback: list[str] = []
    pos = start
    for p in parts:
        if pos < p.start:
            secrets.append((pos, p.start))
            fallback.append(text[pos : p.start])
        if p.default:
            secrets.append((p.end - 1 - len(p.default), p.end - 1))
            fallback.append(p.default)
        pos = p.end
    if pos < end:
        secrets.append((pos, end))
        fallback.append(text[pos:end])
    whole = len(parts) == 1 and (parts[0].start, parts[0].end) == value
    return _Credential(
        value=(start + base, end + base),
        secrets=tuple((a + base, b + base) for a, b in secrets),
        fallback="".join(fallback),
        required=any(p.default is None for p in parts),
        holder=parts[0].name if whole else None,
        user=user,
        user_literal=user_literal,
        scheme=scheme,
        inside=inside,
    )


class UrlPasswords:
    """Where the URL passwords in a text are, to quote any part of it without showing them."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.credentials = _credentials(text)
        #: Every literal password part, sorted and merged.
        self.secrets: list[Span] = []
        for a, b in sorted(s for c in self.credentials for s in c.secrets):
            if self.secrets and a <= self.secrets[-1][1]:
                self.secrets[-1] = (self.secrets[-1][0], max(b, self.secrets[-1][1]))
            else:
                self.secrets.append((a, b))

    def covers(self, start: int, end: int) -> bool:
        """Whether ``text[start:end]`` lies within one password."""
        return _in_a_password(self.credentials, start, end)

    def masked(self, start: int, end: int) -> str:
        """``text[start:end]`` with every literal password part in it replaced by ``***``."""
        out: list[str] = []
        pos = start
        for a, b in self.secrets:
            a, b = max(a, start), min(b, end)
            if a >= b:
                continue
            out.append(self.text[pos:a])
            out.append(_MASK)
            pos = b
        out.append(self.text[pos:end])
        return "".join(out)


def _is_guest(cred: _Credential) -> bool:
    return (
        cred.user is not None
        and cred.user_literal
        and unquote(cred.user) == _GUEST
        and not cred.required
        and unquote(cred.fallback) == _GUEST
    )


def _literal_message(cred: _Credential) -> str:
    where = "the URL" if cred.inside is None else f"the default of '${{{cred.inside}}}'"
    var = cred.holder or "MQ_PASSWORD"
    in_default = f" in the default of '${{{cred.holder}}}'" if cred.holder else ""
    if cred.user is None:
        what = f"{where} has a literal password in its 'password' query parameter{in_default}"
        fix = f"'password=${{{var}}}'"
    else:
        shown = unquote(cred.user) if cred.user_literal else cred.user
        who = f"for user '{shown}'" if shown else "for an empty user name"
        what = f"{where} has a literal password {who}{in_default}"
        fix = f"'{cred.scheme or 'amqp'}://{cred.user}:${{{var}}}@...'"
    if cred.inside is not None:
        return (
            f"{what}: write '${{{cred.inside}}}' with no default, or {fix}, "
            "and set the variable in the environment"
        )
    return f"{what}: write {fix} and set {var} in the environment"


def literal_password_problem(url: str) -> str | None:
    """Why ``url`` (which may hold placeholders) must not be committed, or None if it may.

    A password written in the file, in the text or in a placeholder's default, is a
    problem; one taken from a placeholder without default is not. The pair guest/guest
    (also percent-encoded) is allowed: RabbitMQ accepts that account over loopback only.
    The message names the user, never the password.
    """
    for cred in _credentials(url):
        if cred.secrets and not _is_guest(cred):
            return _literal_message(cred)
    return None


def mask_url(url: str) -> str:
    """``url`` fit for logs: each literal password part (userinfo or ``password=``) is ``***``.

    Placeholders without default stay visible (a variable name is no secret); a default
    inside the password is masked, and so is a password inside a whole-URL default.
    """
    return UrlPasswords(url).masked(0, len(url))


def mask_resolved_url(url: str) -> str:
    """A resolved ``url`` fit for logs and errors: its password and password-like query values
    are ``***``.

    ``mask_url`` reads placeholder syntax, so a resolved password containing ``${...}`` would
    stay partly visible there; this one never looks for placeholders. A cluster's URLs (one
    per line, as settings hold them) are masked one by one, joined by ", ".
    """
    several = url.split()
    if len(several) > 1:
        return ", ".join(mask_resolved_url(one) for one in several)
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(an AMQP URL that cannot be parsed)"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, colon, _ = userinfo.partition(":")
        netloc = f"{user}{':***' if colon else ''}@{hostport}"
    pairs = [p.partition("=") for p in parts.query.split("&")] if parts.query else []
    query = "&".join(
        f"{k}={'***' if v and ('pass' in k.lower() or k == 'ssl_options') else v}" if eq else k
        for k, eq, v in pairs
    )
    return urlunsplit(parts._replace(netloc=netloc, query=query))
