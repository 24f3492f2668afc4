"""The ``add_publisher_consumer`` settings grammar: ``<prefix>``, ``<prefix>.url``, ``.routes``...

These keys are what the old Pyramid add-on read, and what ``[settings]`` of a compiled INI
holds; applications without a topology file can still write them by hand.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NamedTuple

from mqwire.topology.amqp_url import describe, split_urls, url_problems
from mqwire.topology.credentials import mask_resolved_url
from mqwire.topology.ini import FACTORIES
from mqwire.topology.model import TLS_KEYS, Route, Transport
from mqwire.topology.placeholders import PlaceholderError, resolve
from mqwire.topology.routing import pattern_problem

from .errors import ConfigurationError
from .tls import TlsSettings

#: Keys below a prefix that mqwire reads; anything else below it is reported as a typo.
KNOWN_KEYS = (
    "url",
    "heartbeat",
    "consumer_timeout",
    "connection",
    "exchange",
    "routes",
    "queues",
    "continue_on_exception",
    *(f"tls.{key}" for key in TLS_KEYS),
)


#: The factory names of the original Pyramid add-on, read as their mqwire replacements (with a
#: DeprecationWarning), so its settings load unchanged; no module ``altair`` exists.
FACTORY_ALIASES: Mapping[str, str] = {
    "altair.mq.consumer.pika_client_factory": FACTORIES["amqp"][0],
    "altair.mq.publisher.pika_publisher_factory": FACTORIES["amqp"][1],
    "altair.mq.publisher.locally_dispatching_publisher_consumer_factory": FACTORIES["local"][0],
}


class PublisherConsumerSettings(NamedTuple):
    """One publisher_consumer's settings, read and resolved (placeholders filled in)."""

    name: str
    prefix: str
    factories: tuple[str, ...]
    url: str | None = None
    heartbeat: int | None = None
    #: the broker's delivery acknowledgement timeout the topology states (seconds), if any
    consumer_timeout: float | None = None
    exchange: str | None = None
    routes: tuple[Route, ...] = ()
    queues: tuple[str, ...] = ()
    continue_on_exception: bool = False
    tls: TlsSettings | None = None

    @property
    def transport(self) -> Transport:
        return "local" if FACTORIES["local"][0] in self.factories else "amqp"

    @property
    def urls(self) -> tuple[str, ...]:
        """Each node's URL: one, or a cluster's (``url`` holds them one per line)."""
        return tuple(split_urls(self.url)) if self.url else ()

    @property
    def masked_url(self) -> str:
        return mask_resolved_url(self.url) if self.url else "(no url)"


def read_settings(
    settings: Mapping[str, str],
    name: str,
    prefix: str,
    environ: Mapping[str, str],
    base_dir: Path | None = None,
) -> PublisherConsumerSettings:
    """Read the keys below ``prefix``; relative ``tls.*`` paths are relative to ``base_dir``
    (the working directory when None).

    Raises:
        ConfigurationError: naming the key that is missing or malformed, or the environment
            variables a URL or a ``tls.*`` value needs and that are not set.
    """
    if prefix not in settings:
        raise ConfigurationError(
            f"publisher_consumer {name!r}: the settings have no key {prefix!r} (its list of "
            "factories, e.g. mqwire.runtime.publisher.pika_publisher_factory)"
        )
    unknown = sorted(
        k for k in settings if k.startswith(prefix + ".") and k[len(prefix) + 1 :] not in KNOWN_KEYS
    )
    if unknown:
        raise ConfigurationError(
            f"unknown settings key {unknown[0]!r}; "
            f"keys below {prefix!r} are: {', '.join(KNOWN_KEYS)}"
        )

    def get(key: str) -> str | None:
        value = settings.get(f"{prefix}.{key}")
        return value.strip() if value is not None and value.strip() else None

    url = _urls(prefix, _resolved(prefix, "url", get("url"), environ))
    factories = tuple(_factory(prefix, name) for name in settings[prefix].split())
    if not factories:  # it would build nothing, and publishing would fail far from here
        raise ConfigurationError(
            f"{prefix} is empty; list its factories, e.g. "
            "mqwire.runtime.publisher.pika_publisher_factory"
        )
    return PublisherConsumerSettings(
        name=name,
        prefix=prefix,
        factories=factories,
        url=url,
        heartbeat=_int(prefix, "heartbeat", get("heartbeat")),
        consumer_timeout=_seconds(prefix, "consumer_timeout", get("consumer_timeout")),
        exchange=get("exchange"),
        routes=_routes(prefix, get("routes")),
        queues=tuple((get("queues") or "").split()),
        continue_on_exception=_bool(prefix, "continue_on_exception", get("continue_on_exception")),
        tls=_tls(prefix, get, environ, base_dir or Path.cwd()),
    )


def _factory(prefix: str, name: str) -> str:
    """``name``, or the replacement of an alias (warning once per place it is read)."""
    replacement = FACTORY_ALIASES.get(name)
    if replacement is None:
        return name
    warnings.warn(
        f"{prefix}: {name} is deprecated; write {replacement}", DeprecationWarning, stacklevel=4
    )
    return replacement


def _resolved(prefix: str, key: str, value: str | None, environ: Mapping[str, str]) -> str | None:
    if value is None:
        return None
    try:
        return resolve(value, environ)
    except PlaceholderError as exc:
        raise ConfigurationError(f"{prefix}.{key}: {exc}") from exc


def _urls(prefix: str, value: str | None) -> str | None:
    """The resolved URL(s), one per line, each read as ``mq-compile`` read it."""
    if value is None:
        return None
    urls = split_urls(value)
    for url in urls:
        problems = url_problems(url)
        if problems:
            why = "; ".join(describe(p) for p in problems)
            raise ConfigurationError(f"{prefix}.url: {mask_resolved_url(url)}: {why}")
    return "\n".join(urls) or None


def _tls(
    prefix: str, get: Callable[[str], str | None], environ: Mapping[str, str], base_dir: Path
) -> TlsSettings | None:
    """The ``tls.*`` keys, or None without any. A value that resolves to nothing is unset."""
    if all(get(f"tls.{key}") is None for key in TLS_KEYS):
        return None
    values = {}
    for key in ("ca_file", "cert_file", "key_file", "server_hostname"):
        value = _resolved(prefix, f"tls.{key}", get(f"tls.{key}"), environ)
        if value and key != "server_hostname":
            value = str((base_dir / value).absolute())  # an absolute path stays as it is
        values[key] = value or None
    verify = get("tls.verify")
    return TlsSettings(
        f"{prefix}.tls", **values, verify=verify is None or _bool(prefix, "tls.verify", verify)
    )


def _routes(prefix: str, value: str | None) -> tuple[Route, ...]:
    routes = []
    for item in (value or "").split():
        pattern, sep, queue = item.partition(":")
        if not sep or not pattern or not queue:
            raise ConfigurationError(
                f"{prefix}.routes has {item!r}; each route is written pattern:queue"
            )
        problem = pattern_problem(pattern)
        if problem is not None:  # such a binding would silently route nothing
            raise ConfigurationError(f"{prefix}.routes has {item!r}: {problem}")
        routes.append(Route(pattern, queue))
    return tuple(routes)


def _int(prefix: str, key: str, value: str | None) -> int | None:
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()):  # int() also takes "-3", "1_0" and " 7"
        raise ConfigurationError(
            f"{prefix}.{key} has value {value!r}; write a whole number of 0 or more"
        )
    return int(value)


def _seconds(prefix: str, key: str, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds < math.inf:
        raise ConfigurationError(f"{prefix}.{key} has value {value!r}; write seconds above 0")
    return seconds


def _bool(prefix: str, key: str, value: str | None) -> bool:
    if value is None:
        return False
    lowered = value.lower()
    if lowered in ("true", "yes", "on", "1"):
        return True
    if lowered in ("false", "no", "off", "0"):
        return False
    raise ConfigurationError(f"{prefix}.{key} has value {value!r}; write true or false")
