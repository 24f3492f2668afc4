"""Draw a topology: publishers -> exchanges -> routes -> queues -> tasks, as Mermaid or DOT.

Pure: model in, text out. `topology_graph` builds one neutral graph (nodes and edges,
sorted); `to_mermaid` and `to_dot` only lay it out, so both formats always show the same
thing. Node ids are derived from kind and name by a reversible escape, so they are stable
across runs and never collide (``a.b`` and ``a_b`` stay apart), and the output diffs cleanly.

What is drawn:

- a publisher_consumer publishes to its exchange; without one it publishes through the
  default exchange straight to the queue named by the routing key;
- each binding (the routes, plus each consumed queue by its own name) is an edge labelled
  with its pattern from the exchange to the queue;
- a queue feeds the task registered for it;
- a schedule (labelled with when it fires) publishes its routing key through its
  publisher_consumer;
- retries go to ``<queue>.retry.<delay>`` and come back after the delay (dashed), and a
  message that failed for good is dead-lettered to the dead-letter queue (dashed);
- with ``delays: true`` and any amqp publisher_consumer, the delay ladder (``mqwire.delay.*``,
  one node for its levels): each amqp publisher_consumer's delayed publishes go into it, and
  come out after the delay to its exchange, or without one to the queues it reaches by name
  (dashed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mqwire.topology import delays
from mqwire.topology.model import Topology, format_seconds

NodeKind = Literal["schedule", "publisher", "delay", "exchange", "queue", "task"]
EdgeKind = Literal["schedule", "publish", "delay", "route", "consume", "retry", "dead"]

#: Id prefix per node kind, so an exchange and a queue may share a name.
_PREFIX: dict[NodeKind, str] = {
    "schedule": "s", "publisher": "pc", "delay": "d", "exchange": "ex", "queue": "q", "task": "t",
}  # fmt: skip
#: The one node standing for every level of the delay ladder.
_TOP = delays.LEVELS - 1
LADDER_LABEL = f"delays: {delays.LEVEL_PREFIX}00..{_TOP:02d} (2^k s each, k = 0..{_TOP})"
#: Edges drawn dashed: what waits, or what failed.
_DASHED = ("delay", "retry", "dead")

#: The formats `render` knows.
FORMATS = ("mermaid", "dot")


@dataclass(frozen=True, order=True)
class Node:
    id: str
    kind: NodeKind
    label: str


@dataclass(frozen=True, order=True)
class Edge:
    source: str
    target: str
    label: str
    kind: EdgeKind


@dataclass(frozen=True)
class Graph:
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]


def node_id(kind: NodeKind, name: str) -> str:
    """``queue``, ``lots.mail`` -> ``q_lots_2email``: letters and digits kept, the rest hex."""
    escaped = "".join(c if c.isascii() and c.isalnum() else f"_{ord(c):02x}" for c in name)
    return f"{_PREFIX[kind]}_{escaped}"


def topology_graph(topology: Topology) -> Graph:
    """The whole topology as a sorted, duplicate-free graph."""
    nodes: dict[str, Node] = {}
    edges: set[Edge] = set()

    def add(kind: NodeKind, name: str, label: str | None = None) -> str:
        ident = node_id(kind, name)
        nodes.setdefault(ident, Node(ident, kind, label or name))
        return ident

    for pc in topology.publisher_consumers.values():
        label = pc.name if pc.transport == "amqp" else f"{pc.name} (local)"
        publisher = add("publisher", pc.name, label)
        if pc.exchange:
            exchange = add("exchange", pc.exchange)
            edges.add(Edge(publisher, exchange, "publishes", "publish"))
            source = exchange
        else:
            source = publisher
        routes = topology.effective_routes(pc.name)
        for route in routes:
            label = route.pattern if pc.exchange else f"{route.pattern} (default exchange)"
            edges.add(Edge(source, add("queue", route.queue), label, "route"))
        if pc.transport == "amqp" and topology.delays:
            ladder = add("delay", delays.PREFIX, LADDER_LABEL)
            edges.add(Edge(publisher, ladder, "publish(delay=...)", "delay"))
            targets = [source] if pc.exchange else [node_id("queue", r.queue) for r in routes]
            edges.update(Edge(ladder, target, "after the delay", "delay") for target in targets)
    for queue in topology.queues.values():
        ident = add("queue", queue.name)
        for delay, retry_name in queue.retry_queues:
            delayed = add("queue", retry_name)
            edges.add(Edge(ident, delayed, "retry", "retry"))
            edges.add(Edge(delayed, ident, f"after {format_seconds(delay)}", "retry"))
        edges.add(Edge(ident, add("queue", queue.dead_letter_queue), "dead-letter", "dead"))
    for task in topology.tasks.values():
        edges.add(Edge(add("queue", task.queue), add("task", task.name), "", "consume"))
    for schedule in topology.schedules.values():
        when = (
            f"every {format_seconds(schedule.every)}"
            if schedule.every is not None
            else f"cron {schedule.cron} ({schedule.timezone})"
        )
        ident = add("schedule", schedule.name, f"{schedule.name}: {when}")
        target = node_id("publisher", schedule.publisher_consumer)
        edges.add(Edge(ident, target, schedule.routing_key, "schedule"))
    order = list(_PREFIX)
    return Graph(
        tuple(sorted(nodes.values(), key=lambda n: (order.index(n.kind), n.id))),
        tuple(sorted(edges)),
    )


def render(topology: Topology, fmt: str) -> str:
    """The topology drawn in ``fmt`` (one of `FORMATS`)."""
    graph = topology_graph(topology)
    if fmt == "mermaid":
        return to_mermaid(graph)
    if fmt == "dot":
        return to_dot(graph)
    raise ValueError(f"unknown graph format {fmt!r}; expected one of {', '.join(FORMATS)}")


_MERMAID_SHAPE: dict[NodeKind, tuple[str, str]] = {
    "schedule": ('>"', '"]'),
    "publisher": ('(["', '"])'),
    "delay": ('[("', '")]'),
    "exchange": ('{{"', '"}}'),
    "queue": ('[("', '")]'),
    "task": ('["', '"]'),
}


def _mermaid_text(text: str) -> str:
    """Inside a quoted Mermaid label only ``"`` and the entity marker ``#`` need care."""
    return text.replace("#", "#35;").replace('"', "#quot;")


def to_mermaid(graph: Graph) -> str:
    """A ``flowchart LR``, the form GitHub renders in Markdown (```` ```mermaid ````)."""
    lines = ["flowchart LR"]
    for node in graph.nodes:
        start, end = _MERMAID_SHAPE[node.kind]
        lines.append(f"    {node.id}{start}{_mermaid_text(node.label)}{end}")
    for edge in graph.edges:
        arrow = "-.->" if edge.kind in _DASHED else "-->"
        label = f'|"{_mermaid_text(edge.label)}"|' if edge.label else ""
        lines.append(f"    {edge.source} {arrow}{label} {edge.target}")
    return "\n".join(lines) + "\n"


_DOT_SHAPE: dict[NodeKind, str] = {
    "schedule": "shape=note",
    "publisher": 'shape=box, style="rounded"',
    "delay": 'shape=cylinder, style="dashed"',
    "exchange": "shape=hexagon",
    "queue": "shape=cylinder",
    "task": "shape=box",
}


def _dot_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(graph: Graph) -> str:
    """A Graphviz ``digraph``, left to right (``dot -Tsvg`` draws it)."""
    lines = [
        "digraph topology {",
        "    rankdir=LR;",
        '    node [fontname="Helvetica"];',
        '    edge [fontname="Helvetica", fontsize=10];',
    ]
    for node in graph.nodes:
        lines.append(f"    {node.id} [label={_dot_string(node.label)}, {_DOT_SHAPE[node.kind]}];")
    for edge in graph.edges:
        attributes = [f"label={_dot_string(edge.label)}"] if edge.label else []
        if edge.kind in _DASHED:
            attributes.append("style=dashed")
        suffix = f" [{', '.join(attributes)}]" if attributes else ""
        lines.append(f"    {edge.source} -> {edge.target}{suffix};")
    lines.append("}")
    return "\n".join(lines) + "\n"
