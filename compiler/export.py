"""The topology as a RabbitMQ definitions document, for ``rabbitmqctl import_definitions``.

Pure: model in, JSON text out. The content is the worker's own declaration plan
(`mqwire.topology.declarations.declarations`), applied to every amqp publisher_consumer, so
an export holds exactly what ``mserve`` would declare: the topic exchanges, every queue with
its arguments (including the ``<queue>.retry.<delay>`` delay queues and the dead-letter
queues) and every binding. Local publisher_consumers never touch a broker and are left out.

RabbitMQ cannot import exclusive queues (they belong to one connection); they are left out
too and named by `exclusive_queues` so the CLI can say so.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from mqwire.topology.declarations import Declarations, amqp_routing, declarations
from mqwire.topology.model import Topology

#: The vhost an export targets unless told otherwise.
DEFAULT_VHOST = "/"


def broker_plan(topology: Topology) -> Declarations:
    """What ``mserve`` declares for all the topology's amqp publisher_consumers together."""
    return declarations(amqp_routing(topology), topology.queues, delays=topology.delays)


def exclusive_queues(topology: Topology) -> tuple[str, ...]:
    """Queues the plan holds that a definitions import cannot create (sorted)."""
    return tuple(q.name for q in broker_plan(topology).queues if q.exclusive)


def definitions(topology: Topology, vhost: str = DEFAULT_VHOST) -> dict[str, Any]:
    """The definitions document as data: ``exchanges``, ``queues`` and ``bindings``."""
    plan = broker_plan(topology)
    return {
        "exchanges": [
            {
                "name": e.name,
                "vhost": vhost,
                "type": e.type,
                "durable": e.durable,
                "auto_delete": False,
                "internal": False,
                "arguments": {},
            }
            for e in plan.exchanges
        ],
        "queues": [
            {
                "name": q.name,
                "vhost": vhost,
                "durable": q.durable,
                "auto_delete": q.auto_delete,
                "arguments": _sorted(q.arguments),
            }
            for q in plan.queues
            if not q.exclusive
        ],
        "bindings": [
            {
                "source": b.exchange,
                "vhost": vhost,
                "destination": b.queue,
                "destination_type": b.destination_type,
                "routing_key": b.routing_key,
                "arguments": {},
            }
            for b in plan.bindings
        ],
    }


def export_definitions(topology: Topology, vhost: str = DEFAULT_VHOST) -> str:
    """The definitions document as byte-stable JSON text (sorted, indent 2, final newline)."""
    return json.dumps(definitions(topology, vhost), indent=2, sort_keys=True) + "\n"


def _sorted(arguments: Mapping[str, Any]) -> dict[str, Any]:
    return dict(sorted(arguments.items()))
