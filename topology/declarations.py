"""What a publisher_consumer needs on the broker: exchanges, queues and bindings, as data.

Pure: the worker applies this plan on its channel, the test suite on a blocking one, and
both declare exactly the same things. Every declaration is idempotent on RabbitMQ as long
as the arguments do not change (a change fails with 406 PRECONDITION_FAILED).

Retries go through one delay queue per distinct delay: a message is published to
``<queue>.retry.<delay>`` (default exchange), waits there for the delay (``x-message-ttl``),
and is dead-lettered back to ``<queue>`` through the default exchange. Failed messages are
published to ``<queue>.dead`` with headers saying why.

The retry and dead-letter queues of a quorum queue are quorum queues too: a classic queue lives
on one node, and once that node is down a cluster refuses to declare it again (404). Their
retries go back at least once (``x-dead-letter-strategy: at-least-once`` with the
``x-overflow: reject-publish`` it needs), so a message waiting for its retry survives a node's
death. A dead-letter queue the topology declares itself is declared as written there.

Delayed publishes go through the ladder of ``delays.py``, declared with every plan that has a
publisher_consumer: its level exchanges and queues, and on its delivery exchange one binding
per binding of the plan (and per queue, for the default exchange).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple, Protocol

from . import delays
from .model import Queue, Route, Topology


class Router(Protocol):
    """What the plan needs of a publisher_consumer (runtime settings and ``Routing`` both fit)."""

    @property
    def name(self) -> str: ...

    @property
    def exchange(self) -> str | None: ...

    @property
    def routes(self) -> tuple[Route, ...]: ...


class Routing(NamedTuple):
    """A publisher_consumer's exchange and effective routes, read from a topology."""

    name: str
    exchange: str | None
    routes: tuple[Route, ...]


def amqp_routing(topology: Topology) -> list[Routing]:
    """Every amqp publisher_consumer of ``topology``, with its effective routes."""
    return [
        Routing(pc.name, pc.exchange, tuple(topology.effective_routes(pc.name)))
        for pc in topology.publisher_consumers.values()
        if pc.transport == "amqp"
    ]


#: The type of every exchange mqwire declares: routes are topic patterns.
EXCHANGE_TYPE = "topic"


class ExchangeDeclaration(NamedTuple):
    name: str
    type: str = EXCHANGE_TYPE
    durable: bool = True


class QueueDeclaration(NamedTuple):
    name: str
    durable: bool = True
    exclusive: bool = False
    auto_delete: bool = False
    arguments: Mapping[str, Any] = MappingProxyType({})

    def declare_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of pika's ``queue_declare`` (blocking and async channels alike)."""
        return {
            "queue": self.name,
            "durable": self.durable,
            "exclusive": self.exclusive,
            "auto_delete": self.auto_delete,
            "arguments": dict(self.arguments) or None,
        }


class BindingDeclaration(NamedTuple):
    """``exchange`` routes ``routing_key`` to ``queue``, the destination: a queue, or an
    exchange when ``destination_type`` says so (the delay ladder's only)."""

    queue: str
    exchange: str
    routing_key: str
    destination_type: str = "queue"

    @property
    def key(self) -> tuple[str, str, str, str]:
        """(exchange, destination type, destination, routing key), as the broker lists it."""
        return (self.exchange, self.destination_type, self.queue, self.routing_key)


class Declarations(NamedTuple):
    """In the order they must be applied: exchanges, then queues, then bindings."""

    exchanges: tuple[ExchangeDeclaration, ...] = ()
    queues: tuple[QueueDeclaration, ...] = ()
    bindings: tuple[BindingDeclaration, ...] = ()


def owns_binding(plan: Declarations, exchange: str, destination: str, routing_key: str) -> bool:
    """Whether a binding on one of ``plan``'s exchanges is the plan's business, so that one it
    does not declare is extra (reported, pruned).

    The delay ladder's exchanges are shared by every topology in the vhost: a binding on a
    level belongs to none, and one on the delivery exchange to the plan only when it is for
    one of the plan's own exchanges (or, for the default exchange, one of its queues).
    """
    if delays.is_level_exchange(exchange):
        return False
    if exchange != delays.DELIVERY_EXCHANGE:
        return True
    target = delays.delivered_exchange(routing_key)
    if target is None:
        return False
    if target == "":
        return any(q.name == destination for q in plan.queues)
    return any(x.name == target for x in plan.exchanges)


def queue_declaration(queue: Queue) -> QueueDeclaration:
    return QueueDeclaration(
        queue.name, queue.durable, queue.exclusive, queue.auto_delete, dict(queue.arguments)
    )


#: What the retry queues of a quorum queue add: replicated, and back to it at least once.
QUORUM_RETRY_ARGUMENTS: Mapping[str, str] = {
    "x-queue-type": "quorum",
    "x-dead-letter-strategy": "at-least-once",
    "x-overflow": "reject-publish",
}


#: What the failure queues of a quorum queue copy from it: as many replicas as it has.
QUORUM_COPIED_ARGUMENTS = ("x-quorum-initial-group-size",)


def _copied(queue: Queue) -> dict[str, Any]:
    """The arguments of quorum ``queue`` its retry and dead-letter queues share."""
    return {k: queue.arguments[k] for k in QUORUM_COPIED_ARGUMENTS if k in queue.arguments}


def retry_queue_declarations(queue: Queue) -> list[QueueDeclaration]:
    """One delay queue per distinct delay, dead-lettering back to ``queue``."""
    quorum = queue.queue_type == "quorum"
    replicated = {**QUORUM_RETRY_ARGUMENTS, **_copied(queue)} if quorum else {}
    return [
        QueueDeclaration(
            name,
            arguments={
                **replicated,
                "x-message-ttl": round(delay * 1000),
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": queue.name,
            },
        )
        for delay, name in queue.retry_queues
    ]


def failure_queue_declarations(
    queue: Queue, queues: Mapping[str, Queue] | None = None
) -> list[QueueDeclaration]:
    """The retry queues and the dead-letter queue of ``queue``; a dead-letter queue among
    ``queues`` (the topology's) is declared as the topology says, else like ``queue``'s type."""
    declared = (queues or {}).get(queue.dead_letter_queue)
    if declared is not None:
        dead = queue_declaration(declared)
    elif queue.queue_type == "quorum":
        quorum = {"x-queue-type": "quorum", **_copied(queue)}
        dead = QueueDeclaration(queue.dead_letter_queue, arguments=quorum)
    else:
        dead = QueueDeclaration(queue.dead_letter_queue)
    return [*retry_queue_declarations(queue), dead]


def declarations(
    settings: Iterable[Router], queues: Mapping[str, Queue], *, delays: bool = False
) -> Declarations:
    """Everything the given publisher_consumers consume from or route to, and every queue no
    publisher_consumer consumes; with ``delays`` (the topology's ``delays: true``), the delay
    ladder too.

    A route may name a queue another publisher_consumer consumes; it is declared here too
    (with the same arguments), so a binding never races its queue's declaration. A queue
    without ``consumer:`` belongs to another system (or to nobody yet); it is declared with
    every plan, so that a publish naming it through the default exchange is held by the
    broker, as the local transport holds it, rather than refused as unroutable.
    """
    exchanges: dict[str, ExchangeDeclaration] = {}
    wanted: dict[str, Queue] = {}
    bindings: dict[tuple[str, str, str], BindingDeclaration] = {}
    for pc in settings:
        for queue in queues.values():
            if queue.consumer == pc.name:
                wanted[queue.name] = queue
        if pc.exchange:
            exchanges[pc.exchange] = ExchangeDeclaration(pc.exchange)
            for route in pc.routes:
                wanted.setdefault(route.queue, queues.get(route.queue) or Queue(route.queue))
                binding = BindingDeclaration(route.queue, pc.exchange, route.pattern)
                bindings[(binding.exchange, binding.routing_key, binding.queue)] = binding
    for queue in queues.values():
        if queue.consumer is None:
            wanted.setdefault(queue.name, queue)
    declared: dict[str, QueueDeclaration] = {}
    for name in sorted(wanted):
        queue = wanted[name]
        for declaration in [queue_declaration(queue), *failure_queue_declarations(queue, queues)]:
            declared.setdefault(declaration.name, declaration)
    if delays and (exchanges or wanted):
        ladder = delay_declarations(list(bindings.values()), sorted(wanted))
        exchanges.update((x.name, x) for x in ladder.exchanges)
        declared.update((q.name, q) for q in ladder.queues)
        bindings.update(((b.exchange, b.routing_key, b.queue), b) for b in ladder.bindings)
    return Declarations(
        tuple(exchanges[name] for name in sorted(exchanges)),
        tuple(declared[name] for name in sorted(declared)),
        tuple(bindings[key] for key in sorted(bindings)),
    )


def delay_declarations(routed: Iterable[BindingDeclaration], queues: Iterable[str]) -> Declarations:
    """The delay ladder: each level's exchange, queue and two bindings, and the delivery
    exchange with a binding per binding in ``routed`` and per queue in ``queues`` (the
    default exchange's routing by queue name)."""
    exchanges = [ExchangeDeclaration(delays.level_exchange(k)) for k in delays.ladder_levels()]
    exchanges.append(ExchangeDeclaration(delays.DELIVERY_EXCHANGE))
    ladder = [
        QueueDeclaration(delays.level_queue(k), arguments=delays.queue_arguments(k))
        for k in delays.ladder_levels()
    ]
    bindings = [
        BindingDeclaration(destination, delays.level_exchange(k), pattern, kind)
        for k in delays.ladder_levels()
        for kind, destination, pattern in delays.level_bindings(k)
    ]
    targets = [(b.exchange, b.routing_key, b.queue) for b in routed]
    targets.extend(("", queue, queue) for queue in queues)
    bindings.extend(
        BindingDeclaration(queue, delays.DELIVERY_EXCHANGE, delays.delivery_pattern(x, key))
        for x, key, queue in targets
    )
    return Declarations(tuple(exchanges), tuple(ladder), tuple(bindings))
