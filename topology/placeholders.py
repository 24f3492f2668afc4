"""Environment placeholders in topology values: ``${VAR}`` and ``${VAR:-default}``.

Why: a topology is reviewed and committed, so it must not hold credentials. Values such as
AMQP URLs name environment variables instead; compiled files keep the placeholders verbatim
and the runtime resolves them at start with an environment it passes in explicitly. This
module is pure (no I/O, never reads ``os.environ``) so the compiler's checks and the
runtime's resolution share one grammar.

Grammar:

- ``${NAME}``: a required variable; NAME matches ``[A-Za-z_][A-Za-z0-9_]*``.
- ``${NAME:-default}``: the default is taken verbatim (any text without ``}`` and ``${``;
  no nesting, and no escapes inside it, so ``$$`` there stays ``$$``).
- ``$$``: a literal ``$`` (outside placeholders).

Any other ``$`` is a syntax problem. Resolution follows the shell: ``${NAME}`` accepts an
empty value (set is set), while ``${NAME:-default}`` uses the default when NAME is unset
*or empty*. Substituted values are never expanded again.

URLs are read the way that hides the most: the userinfo of ``scheme://user:password@host``
runs to the last ``@`` before whitespace, so a password with an unencoded ``/``, ``?``,
``#`` or ``@`` is still treated as a password (percent-encode an ``@`` in a vhost as
``%40``). Placeholders count as opaque text, so a ``:`` or ``@`` in a default never
splits the surrounding URL.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from .errors import MqError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: The inside of a well-formed placeholder (between ``${`` and ``}``).
_BODY = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?", re.DOTALL)
#: The start of a default that goes on to contain ``${`` (nesting).
_NESTED_PREFIX = re.compile(r"[A-Za-z_][A-Za-z0-9_]*:-.*", re.DOTALL)
#: Characters that end a variable name in a malformed placeholder (shell operators).
_OPERATOR_CHARS = ":-=?+"

#: Stands in for a placeholder when reading URL structure, keeping offsets unchanged.
_FILLER = "\x00"
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z0-9+.\-\x00]*)://(?P<user>[^:@/\s]*):(?P<password>\S*)@")
_QUERY_PASSWORD = re.compile(r"[?&;]password=(?P<password>[^&#;\s]*)", re.IGNORECASE)

#: RabbitMQ's built-in account; the broker accepts it over loopback only, so it is no secret.
_GUEST = "guest"
_MASK = "***"

Span = tuple[int, int]


@dataclass(frozen=True)
class Placeholder:
    """One ``${NAME}`` or ``${NAME:-default}``; ``text[start:end]`` is the whole placeholder."""

    name: str
    default: str | None
    start: int
    end: int


class PlaceholderError(MqError):
    """Raised by :func:`resolve`, listing every missing variable at once so one fix suffices.

    ``missing`` is sorted and unique; ``problems`` holds syntax problems, if the text had any.
    """

    def __init__(self, missing: Iterable[str] = (), problems: Iterable[str] = ()) -> None:
        self.missing: tuple[str, ...] = tuple(sorted(set(missing)))
        self.problems: tuple[str, ...] = tuple(problems)
        super().__init__(self._render())

    def _render(self) -> str:
        lines: list[str] = []
        if len(self.missing) == 1:
            (name,) = self.missing
            lines.append(
                f"environment variable '{name}' is not set: "
                f"set it or give a default as '${{{name}:-default}}'"
            )
        elif self.missing:
            names = ", ".join(f"'{name}'" for name in self.missing)
            lines.append(
                f"environment variables {names} are not set: "
                "set each one or give it a default as '${VAR:-default}'"
            )
        lines.extend(self.problems)
        return "\n".join(lines)


# --------------------------------------------------------------------------- scanning


@dataclass(frozen=True)
class _Problem:
    start: int
    end: int
    kind: str


def _scan(text: str) -> tuple[list[Placeholder], list[_Problem]]:
    """Well-formed placeholders and syntax problems, left to right; never raises."""
    found: list[Placeholder] = []
    problems: list[_Problem] = []
    i = text.find("$")
    while i >= 0:
        after = text[i + 1 : i + 2]
        if after == "$":
            nxt = i + 2
        elif after == "{":
            nxt = _scan_braces(text, i, found, problems)
        else:
            name = _NAME.match(text, i + 1)
            if name:
                problems.append(_Problem(i, name.end(), "braces"))
                nxt = name.end()
            else:
                problems.append(_Problem(i, min(i + 2, len(text)), "lone"))
                nxt = i + 1
        i = text.find("$", nxt)
    return found, problems


def _scan_braces(text: str, i: int, found: list[Placeholder], problems: list[_Problem]) -> int:
    """Read the ``${`` at ``i``; return where scanning goes on."""
    close = text.find("}", i + 2)
    inner = text.find("${", i + 2)
    if close < 0 or 0 <= inner < close:
        if close >= 0 and _NESTED_PREFIX.fullmatch(text, i + 2, inner):
            problems.append(_Problem(i, close + 1, "nested"))
            return close + 1
        problems.append(_Problem(i, inner if inner >= 0 else len(text), "unclosed"))
        return i + 2
    body = _BODY.fullmatch(text, i + 2, close)
    if body:
        found.append(Placeholder(body["name"], body["default"], i, close + 1))
    else:
        problems.append(_Problem(i, close + 1, "malformed"))
    return close + 1


# --------------------------------------------------------------------------- messages


def _braces_message(shown: str) -> str:
    rest = shown[1:]
    return f"'{shown}' needs braces: write '${{{rest}}}', or '$${rest}' for a literal '$'"


def _lone_message(shown: str) -> str:
    if len(shown) == 1:
        return "a '$' at the end is not a placeholder: write '$$' for a literal '$'"
    return (
        f"'{shown}' is not a placeholder: write '$${shown[1:]}' for a literal '$', "
        "or '${NAME}' for a variable"
    )


def _unclosed_message(shown: str) -> str:
    body = shown[2:].rstrip()
    if _BODY.fullmatch(body):
        return f"'{shown}' is not closed: write '${{{body}}}'"
    return (
        f"'{shown}' is not closed: end it with '}}' as in '${{NAME}}' or "
        "'${NAME:-default}', or write '$$' for a literal '$'"
    )


def _nested_message(shown: str) -> str:
    name = shown[2:].partition(":")[0]
    return (
        f"'{shown}' puts a placeholder inside a default, which is not supported: "
        f"write '${{{name}}}' or give it a literal default as in '${{{name}:-value}}'"
    )


def _malformed_message(shown: str) -> str:
    body = shown[2:-1]
    cut = next((k for k, ch in enumerate(body) if ch in _OPERATOR_CHARS), len(body))
    name, rest = body[:cut], body[cut:]
    if not name.strip():
        if not rest:
            return (
                f"'{shown}' has no variable name: write '${{NAME}}', "
                f"or '$${shown[1:]}' for literal text"
            )
        default = rest[2:] if rest.startswith(":-") else "default"
        return f"'{shown}' has no variable name: write '${{NAME:-{default}}}'"
    if not _NAME.fullmatch(name):
        fixed = re.sub(r"[^A-Za-z0-9_]", "_", name.strip())
        if fixed[0].isdigit():
            fixed = "_" + fixed
        tail = rest if rest.startswith(":-") else ""
        return (
            f"'{shown}' has an invalid variable name '{name}': names use letters, digits "
            f"and '_' and do not start with a digit, as in '${{{fixed}{tail}}}'"
        )
    if rest.startswith(":") and rest[1:2] not in ("-", "=", "?", "+"):
        return f"'{shown}' is missing the '-' of ':-': write '${{{name}:-{rest[1:]}}}'"
    operator = rest[:2] if rest.startswith(":") else rest[:1]
    value = rest[len(operator) :]
    return (
        f"'{shown}' uses '{operator}', which is not supported: write "
        f"'${{{name}:-{value}}}' for a default or '${{{name}}}' for a required variable"
    )


_MESSAGES: dict[str, Callable[[str], str]] = {
    "braces": _braces_message,
    "lone": _lone_message,
    "unclosed": _unclosed_message,
    "nested": _nested_message,
    "malformed": _malformed_message,
}

_IN_PASSWORD_MESSAGE = (
    "a URL password (not shown) has a '$' that starts no valid placeholder: take the "
    "password from the environment as '${MQ_PASSWORD}', or write '$$' for a literal '$'"
)


# --------------------------------------------------------------------------- URLs


@dataclass(frozen=True)
class _Credential:
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


def _credentials(text: str, base: int = 0, inside: str | None = None) -> list[_Credential]:
    """Passwords in ``text`` (offsets shifted by ``base``), also inside placeholder defaults."""
    placeholders, _ = _scan(text)
    skeleton = list(text)
    for p in placeholders:
        skeleton[p.start : p.end] = _FILLER * (p.end - p.start)
    plain = "".join(skeleton)

    found: list[_Credential] = []
    for match in _USERINFO.finditer(plain):
        user_start, user_end = match.span("user")
        found.append(
            _credential(
                text,
                placeholders,
                match.span("password"),
                user=text[user_start:user_end],
                user_literal=_FILLER not in match["user"],
                scheme=text[match.start("scheme") : match.end("scheme")],
                base=base,
                inside=inside,
            )
        )
    for match in _QUERY_PASSWORD.finditer(plain):
        found.append(
            _credential(
                text,
                placeholders,
                match.span("password"),
                user=None,
                user_literal=True,
                scheme="",
                base=base,
                inside=inside,
            )
        )
    for p in placeholders:
        start, end = p.start + base, p.end + base
        in_password = any(c.value[0] <= start and end <= c.value[1] for c in found)
        if p.default and not in_password:
            found.extend(_credentials(p.default, base + p.end - 1 - len(p.default), p.name))
    return found


def _credential(
    text: str,
    placeholders: list[Placeholder],
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


def _secret_spans(credentials: Iterable[_Credential]) -> list[Span]:
    """Every literal password part, sorted and merged."""
    merged: list[Span] = []
    for a, b in sorted(s for c in credentials for s in c.secrets):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def _masked(text: str, start: int, end: int, secrets: Iterable[Span]) -> str:
    """``text[start:end]`` with every secret part in it replaced by ``***``."""
    out: list[str] = []
    pos = start
    for a, b in secrets:
        a, b = max(a, start), min(b, end)
        if a >= b:
            continue
        out.append(text[pos:a])
        out.append(_MASK)
        pos = b
    out.append(text[pos:end])
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


# --------------------------------------------------------------------------- API


def placeholder_problems(text: str) -> list[str]:
    """Every syntax problem in ``text``, each one sentence saying what to write instead.

    Quoted text never shows a URL password: parts of one are replaced by ``***``.
    """
    _, problems = _scan(text)
    if not problems:
        return []
    credentials = _credentials(text)
    secrets = _secret_spans(credentials)
    messages: list[str] = []
    for problem in problems:
        inside = any(c.value[0] <= problem.start and problem.end <= c.value[1] for c in credentials)
        if inside:
            messages.append(_IN_PASSWORD_MESSAGE)
        else:
            shown = _masked(text, problem.start, problem.end, secrets)
            messages.append(_MESSAGES[problem.kind](shown))
    return messages


def find_placeholders(text: str) -> tuple[Placeholder, ...]:
    """The placeholders in ``text``, in order; on a malformed text, only the well-formed ones."""
    return tuple(_scan(text)[0])


def resolve(text: str, environ: Mapping[str, str]) -> str:
    """Substitute placeholders from ``environ`` and unescape ``$$``.

    ``${VAR}`` takes VAR even when empty; ``${VAR:-default}`` takes the default when VAR is
    unset or empty (as the shell does). Raises :class:`PlaceholderError` naming every missing
    variable (and any syntax problem) at once.
    """
    placeholders, problems = _scan(text)
    missing = [p.name for p in placeholders if p.default is None and p.name not in environ]
    if missing or problems:
        raise PlaceholderError(missing, placeholder_problems(text) if problems else ())
    out: list[str] = []
    pos = 0
    for p in placeholders:
        out.append(text[pos : p.start].replace("$$", "$"))
        value = environ.get(p.name, "")  # a required one is set: missing ones raised above
        out.append(p.default if p.default is not None and not value else value)
        pos = p.end
    out.append(text[pos:].replace("$$", "$"))
    return "".join(out)


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
    secrets = _secret_spans(_credentials(url))
    return _masked(url, 0, len(url), secrets)
