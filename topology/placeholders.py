"""Environment placeholders in topology values: ``${VAR}`` and ``${VAR:-default}``.

Why: a topology is reviewed and committed, so it must not hold credentials. Values such as
AMQP URLs name environment variables instead; compiled files keep the placeholders verbatim
and the runtime resolves them at start with an environment it passes in explicitly. This
module is pure (no I/O, never reads ``os.environ``) so the compiler's checks and the
runtime's resolution share one grammar. Passwords written into URLs are :mod:`.credentials`'
concern.

Grammar:

- ``${NAME}``: a required variable; NAME matches ``[A-Za-z_][A-Za-z0-9_]*``.
- ``${NAME:-default}``: the default is taken verbatim (any text without ``}`` and ``${``;
  no nesting, and no escapes inside it, so ``$$`` there stays ``$$``).
- ``$$``: a literal ``$`` (outside placeholders).

Any other ``$`` is a syntax problem. Resolution follows the shell: ``${NAME}`` accepts an
empty value (set is set), while ``${NAME:-default}`` uses the default when NAME is unset
*or empty*. Substituted values are never expanded again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from .credentials import UrlPasswords
from .errors import PlaceholderError
from .placeholder_scan import (
    OPERATOR_CHARS,
    PLACEHOLDER_BODY,
    VAR_NAME,
    Placeholder,
    find_placeholders,
    scan,
)

__all__ = [
    "Placeholder",
    "PlaceholderError",
    "find_placeholders",
    "placeholder_problems",
    "resolve",
]


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
    if PLACEHOLDER_BODY.fullmatch(body):
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
    cut = next((k for k, ch in enumerate(body) if ch in OPERATOR_CHARS), len(body))
    name, rest = body[:cut], body[cut:]
    if not name.strip():
        if not rest:
            return (
                f"'{shown}' has no variable name: write '${{NAME}}', "
                f"or '$${shown[1:]}' for literal text"
            )
        default = rest[2:] if rest.startswith(":-") else "default"
        return f"'{shown}' has no variable name: write '${{NAME:-{default}}}'"
    if not VAR_NAME.fullmatch(name):
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


# --------------------------------------------------------------------------- API


def placeholder_problems(text: str) -> list[str]:
    """Every syntax problem in ``text``, each one sentence saying what to write instead.

    Quoted text never shows a URL password: parts of one are replaced by ``***``.
    """
    _, problems = scan(text)
    if not problems:
        return []
    passwords = UrlPasswords(text)
    messages: list[str] = []
    for problem in problems:
        if passwords.covers(problem.start, problem.end):
            messages.append(_IN_PASSWORD_MESSAGE)
        else:
            shown = passwords.masked(problem.start, problem.end)
            messages.append(_MESSAGES[problem.kind](shown))
    return messages


def resolve(text: str, environ: Mapping[str, str]) -> str:
    """Substitute placeholders from ``environ`` and unescape ``$$``.

    ``${VAR}`` takes VAR even when empty; ``${VAR:-default}`` takes the default when VAR is
    unset or empty (as the shell does). Raises :class:`PlaceholderError` naming every missing
    variable (and any syntax problem) at once.
    """
    placeholders, problems = scan(text)
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
