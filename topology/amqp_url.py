"""The one reading of an AMQP URL that the compiler and the runtime share.

pika's ``URLParameters`` accepts more than it can use: ``amqp://h1,h2/`` parses, with a host
named ``h1,h2`` that fails only when a worker connects, and a second path segment is dropped
without a word. ``mq-compile`` checks each URL with :func:`url_problems` (placeholders stood in
for), and the runtime checks each resolved URL with it again before pika sees it, so both
accept exactly the same URLs. A cluster is a list of URLs, one per node; in a compiled INI
they are one per line, and :func:`split_urls` reads them back. No pika here (the topology
package is pure); ``QUERY_KEYS`` is pika's list, and a test keeps the two equal.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlsplit

from .placeholder_scan import find_placeholders

SCHEMES = ("amqp", "amqps")
#: The query parameters pika 1.x reads from a URL (``URLParameters._set_url_*``).
QUERY_KEYS = frozenset(
    {
        "blocked_connection_timeout",
        "channel_max",
        "client_properties",
        "connection_attempts",
        "frame_max",
        "heartbeat",
        "locale",
        "retry_delay",
        "socket_timeout",
        "ssl_options",
        "stack_timeout",
        "tcp_options",
    }
)
#: A placeholder's stand-in when a URL with placeholders is checked at compile time: valid as
#: a host, a port, a user, a password and a vhost alike.
STAND_IN = "1"
LIST_HINT = "list a cluster's nodes as separate URLs: url: [amqp://node1/vhost, amqp://node2/vhost]"


def split_urls(value: str) -> list[str]:
    """The URLs of a setting: one, or a cluster's list, one per line (no URL holds a blank)."""
    return value.split()


#: What is wrong, and what to do about it (None: the message says it).
UrlProblem = tuple[str, "str | None"]


def describe(problem: UrlProblem) -> str:
    """One line for an error message: the problem, then its hint."""
    message, hint = problem
    return f"{message}; {hint}" if hint else message


def url_problems(url: str) -> list[UrlProblem]:
    """What is wrong with one resolved AMQP URL (empty: pika takes it and can use it).

    Never repeats the URL: the caller names where it is, masked.
    """
    if any(c.isspace() for c in url):
        return [("an AMQP URL holds no blank", "percent-encode one inside it as %20")]
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return [(f"not an AMQP URL: {exc}", LIST_HINT if "," in url else None)]
    if parts.scheme.lower() not in SCHEMES:
        return [("the URL must start with amqp:// or amqps://", None)]
    problems: list[UrlProblem] = []
    if "," in (parts.hostname or ""):  # no host at all is pika's localhost
        problems.append(("one URL names one node", LIST_HINT))
    if port == 0:
        problems.append(("port 0 is not a port", None))
    segments = parts.path.split("/")[1:]
    if len(segments) > 1:
        problems.append(
            (
                f"the path is the vhost, one segment: pika would use {unquote(segments[0])!r} "
                "and drop the rest",
                "write a '/' inside the vhost as %2F",
            )
        )
    seen: set[str] = set()
    for key, _ in parse_qsl(parts.query, keep_blank_values=True):
        if key not in QUERY_KEYS:
            problems.append(
                (f"unknown URL parameter {key!r}", f"pika knows {', '.join(sorted(QUERY_KEYS))}")
            )
        elif key in seen:
            problems.append((f"URL parameter {key!r} is given twice", None))
        seen.add(key)
    return problems


def topology_url_problems(url: str) -> list[UrlProblem]:
    """``url_problems`` for a URL as the topology writes it, placeholders and all: each
    placeholder stands for a valid part; a URL that is one placeholder is checked by its
    default, if it has one (the rest is for the runtime, which checks the resolved URL)."""
    found = find_placeholders(url)
    if len(found) == 1 and (found[0].start, found[0].end) == (0, len(url)):
        default = found[0].default
        return topology_url_problems(default) if default else []
    checked, end = [], 0
    for placeholder in found:
        checked.append(url[end : placeholder.start] + STAND_IN)
        end = placeholder.end
    if found and found[0].start == 0:  # the scheme comes from the environment
        checked[0] = "amqp" + checked[0][len(STAND_IN) :]
    return url_problems("".join(checked) + url[end:])
