"""Hypothesis strategies that build ACCEPTED topologies as plain dicts (ready for yaml.safe_dump).

Every value is constructed to satisfy the schema (schemas/topology.schema.json) and the semantic
rules (topology/semantics.py, task_checks.py, argument_checks.py, routing.py, placeholders.py), so
the tests need no ``assume``:

- names are 1-3 words of a small alphabet joined by dots (with ``-``, ``_``, digits, and the
  words ``dead``/``retry``/``5s``/``500ms`` so derived-name collisions can come up and are
  avoided on purpose, see ``_queues``); nothing starts with the reserved ``amq.``;
- prefixes start with distinct words, so no prefix equals or extends another;
- ``tls:`` only on URLs that are not plainly ``amqp://``, with verify true or left out, and
  a client certificate always with its key;
- URLs use placeholders, percent signs (``%2F``, ``%%``, ``%(x)s``), ``#``, ``;``, ``$$`` and
  non-ASCII text, but never a literal password (only guest/guest), a stray ``$`` or an ``@``
  in the path, and never whitespace at either end;
- queues are classic or quorum (durable) with a safe argument subset; a dead-letter routing key
  comes with a dead-letter exchange and is any text at all;
- retry delays are whole milliseconds below 16384 s (larger ones hit a known float bug, see
  ``test_properties.py``), including 0.5 and 0.25;
- tasks run only on consumed queues, at most one per queue;
- free text uses no ASCII letters, so it can never spell a path of the machine by chance.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

from mqwire.topology.model import default_dead_letter_queue, retry_queue_name

#: Words of queue, exchange, task, connection and publisher_consumer names.
NAME_WORDS = (
    "a",
    "b",
    "lots",
    "mail",
    "Order",
    "x-1",
    "q_2",
    "-",
    "_",
    "9",
    "07",
    "dead",
    "retry",
    "5s",
    "500ms",
    "250ms",
)

#: Words of prefixes, module names and attributes: Python identifiers, soft keywords included.
#: Hard keywords and ``MappingProxyType`` are left out: the loader refuses both (tested
#: separately in test_properties.py).
IDENT_WORDS = (
    "app",
    "mq",
    "_x",
    "Tasks",
    "v2",
    "cart_1",
    "_",
    "__init__",
    "types",
    "TASKS",
    "match",
    "type",
    "os",
)

#: Characters of free text in URLs and schema paths: no ASCII letters (so no machine path can
#: appear by chance), no ``$`` or ``@`` (placeholders and userinfo), no whitespace, no ``/``.
FREE_CHARS = "0123456789#;%=:()!*+,~-_.é中ß€ü"

SECONDS_MAX = 2_592_000


def dotted(words: tuple[str, ...], max_words: int = 3) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(words), min_size=1, max_size=max_words).map(".".join)


names = dotted(NAME_WORDS)
modules = dotted(IDENT_WORDS)
import_paths = st.builds(lambda m, a: f"{m}:{a}", modules, dotted(IDENT_WORDS, 2))
free_text = st.text(alphabet=FREE_CHARS, min_size=1, max_size=8)

#: Text for x-dead-letter-routing-key / x-dead-letter-exchange (it is JSON-encoded).
#: Control characters and blanks at either end are refused (text_checks), so none here.
argument_text = st.one_of(
    st.sampled_from(["", "#", "a.#;b%c=d:e", "ключ.#", "ü;%=:#", "two words", "[x]"]),
    st.text(st.characters(exclude_categories=("Cs", "Cc", "Zl", "Zp")), max_size=12).filter(
        lambda text: text == text.strip()
    ),
)

FIXED_URLS = (
    "${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2F}",
    "amqp://app:${PW}@host/%2Fvhost",
    "${AMQP_URL}",
    "amqps://events:${EVENTS_PASSWORD}@mq.example.com:5671/%2Fevents?heartbeat=0",
    "amqp://host/%(interpolated)s",
    "amqp://host/a%%b;not-a-comment#nor-this",
    "amqp://h\u00f4st/\u00e9\u4e2d",
    "amqp://host/$$literal-dollar",
)


def _url(scheme: str, userinfo: str, host: str, port: str, vhost: str, query: str) -> str:
    return f"{scheme}://{userinfo}{host}{port}/{vhost}{query}"


urls = st.one_of(
    st.sampled_from(FIXED_URLS),
    st.builds(
        _url,
        st.sampled_from(["amqp", "amqps"]),
        st.sampled_from(
            ["", "app@", "app:${MQ_PASSWORD}@", "guest:guest@", "${MQ_USER}:${MQ_PASSWORD}@"]
        ),
        st.sampled_from(["localhost", "127.0.0.1", "mq.example.com", "${MQ_HOST:-localhost}"]),
        st.sampled_from(["", ":5672", ":${MQ_PORT:-5672}"]),
        # A vhost is one path segment: what would end it ('/', '?', blanks) is percent-encoded.
        st.one_of(st.just("%2F"), free_text, free_text.map(lambda t: "%2F" + t + "$$" + t)).map(
            lambda t: quote(t, safe="%$;#:=@!*'()+,{}-")
        ),
        st.sampled_from(["", "?heartbeat=0", "?heartbeat=30&connection_attempts=3"]),
    ),
)

#: Certificate paths: placeholders, relative and absolute, never a path of the machine.
tls_paths = st.one_of(
    st.sampled_from(["${TLS_DIR}/ca.pem", "certs/ca.pem", "/srv/tls/client.key", "a b/$$1.pem"]),
    st.lists(free_text, min_size=1, max_size=3).map("/".join),
)


@st.composite
def tls_settings(draw: st.DrawFn) -> dict[str, Any]:
    """A ``tls:`` that needs no flag: a CA, a client certificate and key, a name, or none."""
    tls: dict[str, Any] = {}
    _maybe(draw, tls, "ca_file", tls_paths)
    if draw(st.booleans()):
        tls["cert_file"], tls["key_file"] = draw(tls_paths), draw(tls_paths)
    _maybe(draw, tls, "server_hostname", st.sampled_from(["mq.internal", "${MQ_NAME}", "10.1.2.3"]))
    _maybe(draw, tls, "verify", st.just(True))
    return tls


schema_paths = st.one_of(
    st.sampled_from(["schemas/msg.json", "my schema.json", "../schemas/v1/x#1.json"]),
    st.lists(st.one_of(st.sampled_from(["schemas", "msg", "v1", ".."]), free_text), min_size=1)
    .map("/".join)
    .map(lambda p: p + ".json"),
)

retry_delays = st.lists(
    st.one_of(
        st.sampled_from([0.5, 0.25, 1, 2, 5, 30, 60.25, 0.001]),
        st.integers(1, 16_383_999).map(lambda ms: ms / 1000),
        st.integers(1, SECONDS_MAX),
    ),
    min_size=1,
    max_size=4,
)

timeouts = st.one_of(
    st.sampled_from([0.5, 0.25, 30, 12.5, 600, SECONDS_MAX]),
    st.integers(1, SECONDS_MAX),
    st.floats(min_value=0, max_value=SECONDS_MAX, exclude_min=True),
)


#: True three times out of four: most queues are consumed and most consumed queues run a task.
likely = st.sampled_from([True, True, True, False])


def _maybe(draw: st.DrawFn, spec: dict[str, Any], key: str, values: st.SearchStrategy[Any]) -> None:
    if draw(st.booleans()):
        spec[key] = draw(values)


@st.composite
def _queue(
    draw: st.DrawFn, name: str, pc_names: list[str], other_queues: list[str]
) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if draw(likely):
        spec["consumer"] = draw(st.sampled_from(pc_names))
    _maybe(draw, spec, "prefetch", st.integers(1, 65535))
    arguments: dict[str, Any] = {}
    if draw(st.booleans()):  # quorum: durable, neither exclusive nor auto-delete
        arguments["x-queue-type"] = "quorum"
        _maybe(draw, spec, "durable", st.just(True))
        _maybe(draw, spec, "exclusive", st.just(False))
        _maybe(draw, spec, "auto_delete", st.just(False))
    else:
        for flag in ("durable", "exclusive", "auto_delete"):
            _maybe(draw, spec, flag, st.booleans())
        _maybe(draw, arguments, "x-max-priority", st.integers(1, 255))
        if draw(st.booleans()):
            arguments["x-queue-type"] = "classic"
    _maybe(draw, arguments, "x-message-ttl", st.integers(0, 315_360_000_000))
    if draw(st.booleans()):
        arguments["x-dead-letter-exchange"] = draw(st.one_of(st.just(""), names, argument_text))
        _maybe(draw, arguments, "x-dead-letter-routing-key", argument_text)
    if arguments or draw(st.booleans()):
        spec["arguments"] = arguments
    if draw(st.booleans()):
        spec["retry"] = {"delays": draw(retry_delays)}
    others = [q for q in other_queues if q != name]
    dead = draw(st.one_of(st.none(), names, st.sampled_from(others) if others else st.nothing()))
    if dead is not None and dead != name:
        spec["dead_letter_queue"] = dead
    if arguments.get("x-dead-letter-exchange") == "":  # it must name a queue that will exist
        target = spec.get("dead_letter_queue", default_dead_letter_queue(name))
        arguments["x-dead-letter-routing-key"] = target
    _maybe(draw, spec, "schema", schema_paths)
    return spec


def derived_queue_names(name: str, spec: dict[str, Any]) -> set[str]:
    """The queues mqwire declares for queue ``name`` (as semantics.derived_names computes)."""
    delays = spec.get("retry", {}).get("delays", [])
    derived = {retry_queue_name(name, d) for d in delays}
    if "dead_letter_queue" not in spec:
        derived.add(default_dead_letter_queue(name))
    return derived


@st.composite
def _queues(draw: st.DrawFn, pc_names: list[str]) -> dict[str, dict[str, Any]]:
    """Queues whose derived names (X.dead, X.retry.Ns) never equal another queue's name.

    A drawn queue that would collide with the ones kept so far is skipped, not rejected, so
    the first queue is always kept and no example is thrown away.
    """
    candidates = draw(st.lists(names, min_size=1, max_size=6, unique=True))
    kept: dict[str, dict[str, Any]] = {}
    derived: set[str] = set()
    for name in candidates:
        spec = draw(_queue(name, pc_names, candidates))
        own = derived_queue_names(name, spec)
        if name in derived or own & kept.keys():
            continue
        kept[name] = spec
        derived |= own
    return kept


patterns = st.one_of(
    st.lists(st.sampled_from((*NAME_WORDS, "*", "#")), min_size=1, max_size=4).map(".".join),
    # Patterns that START with '#': configparser drops indented lines starting with '#'.
    st.lists(st.sampled_from((*NAME_WORDS, "*", "#")), max_size=3).map(
        lambda words: ".".join(["#", *words])
    ),
)


def _routes(queue_names: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    queue = st.sampled_from(queue_names)
    target = st.one_of(queue, st.lists(queue, min_size=1, max_size=3, unique=True))
    # A queue's own name as pattern (``q: q``) is implied when the pc consumes q: test both.
    return st.dictionaries(st.one_of(patterns, queue), target, min_size=1, max_size=4)


@st.composite
def topology_dicts(draw: st.DrawFn) -> dict[str, Any]:
    """An accepted topology as a dict, to serialise with ``yaml.safe_dump``."""
    connection_names = draw(st.lists(names, min_size=1, max_size=3, unique=True))
    connections: dict[str, Any] = {}
    for name in connection_names:
        connection: dict[str, Any] = {"url": draw(urls)}
        _maybe(draw, connection, "heartbeat", st.integers(0, 65535))
        if not connection["url"].startswith("amqp://"):  # amqps://, or a placeholder
            _maybe(draw, connection, "tls", tls_settings())
        connections[name] = connection

    pc_names = draw(st.lists(names, min_size=1, max_size=3, unique=True))
    first_words = draw(
        st.lists(
            st.sampled_from(IDENT_WORDS),
            min_size=len(pc_names),
            max_size=len(pc_names),
            unique=True,
        )
    )
    pcs: dict[str, dict[str, Any]] = {}
    for name, first in zip(pc_names, first_words, strict=True):
        tail = draw(st.lists(st.sampled_from(IDENT_WORDS), max_size=2))
        pc: dict[str, Any] = {"prefix": ".".join([first, *tail])}
        transport = draw(st.sampled_from(["amqp", "local", None]))  # None: the default, amqp
        if transport is not None:
            pc["transport"] = transport
        if transport == "local":
            _maybe(draw, pc, "connection", st.sampled_from(connection_names))
        else:
            pc["connection"] = draw(st.sampled_from(connection_names))
        _maybe(draw, pc, "exchange", names)
        _maybe(draw, pc, "continue_on_exception", st.booleans())
        pcs[name] = pc

    queues = draw(_queues(pc_names))
    queue_names = list(queues)
    for pc in pcs.values():
        # amqp routes need an exchange; local ones do not.
        if (pc.get("transport") == "local" or "exchange" in pc) and draw(likely):
            pc["routes"] = draw(_routes(queue_names))

    consumed = [q for q, spec in queues.items() if "consumer" in spec]
    with_task = [q for q in consumed if draw(likely)]
    task_names = draw(
        st.lists(names, min_size=len(with_task), max_size=len(with_task), unique=True)
    )
    tasks: dict[str, dict[str, Any]] = {}
    for task_name, queue_name in zip(task_names, with_task, strict=True):
        task: dict[str, Any] = {"task": draw(import_paths), "queue": queue_name}
        _maybe(draw, task, "root_factory", import_paths)
        _maybe(draw, task, "timeout", timeouts)
        tasks[task_name] = task

    data: dict[str, Any] = {
        "version": 1,
        "connections": connections,
        "publisher_consumers": pcs,
        "queues": queues,
    }
    if tasks or draw(st.booleans()):
        data["tasks"] = tasks
    if draw(st.booleans()):  # arguments every generated queue (classic or quorum) accepts
        defaults: dict[str, Any] = {}
        _maybe(draw, defaults, "x-message-ttl", st.integers(0, 315_360_000_000))
        _maybe(draw, defaults, "x-max-length", st.integers(0, 10**9))
        data["defaults"] = {"queues": {"arguments": defaults}}
    scan = draw(st.lists(modules, max_size=2, unique=True))
    if scan:
        data["scan"] = scan
    middleware = draw(st.lists(import_paths, max_size=2, unique=True))
    if middleware:
        data["middleware"] = middleware
    return data
