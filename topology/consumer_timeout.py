"""The broker's consumer timeout against task timeouts: one rule for ``explain --lint`` and mserve.

RabbitMQ closes a consuming channel (406) when one of its deliveries stays unacked longer than
its ``consumer_timeout`` (30 minutes by default on 3.10, node-wide), and redelivers what was in
flight. mserve acks a message when its task ends, so a task that may run that long has its run
cut short: the worker then counts it as a failed attempt. Neither the compiler nor mserve can ask
the broker for the value: a connection's ``consumer_timeout:`` states it, else the default is
assumed. Pure: values in, text out.
"""

from __future__ import annotations

from .model import Topology

#: RabbitMQ's default delivery acknowledgement timeout (``consumer_timeout``): 30 minutes.
DEFAULT_CONSUMER_TIMEOUT = 1800.0


def broker_timeout(topology: Topology, queue: str) -> float | None:
    """The consumer timeout that applies to ``queue``'s deliveries; ``None`` without a broker
    (no consumer, or the local transport)."""
    q = topology.queues.get(queue)
    pc = topology.publisher_consumers.get(q.consumer or "") if q is not None else None
    if pc is None or pc.transport != "amqp":
        return None
    connection = topology.connections.get(pc.connection or "")
    stated = connection.consumer_timeout if connection is not None else None
    return stated or DEFAULT_CONSUMER_TIMEOUT


def timeout_problem(task: str, timeout: float | None, consumer_timeout: float) -> str | None:
    """Why ``task``'s ``timeout:`` lets the broker's consumer timeout cut its runs short, if so."""
    limit = (
        f"the broker's delivery acknowledgement timeout (consumer_timeout, {consumer_timeout:g}s)"
    )
    if timeout is None:
        return (
            f"task {task} has no timeout: a run longer than {limit} is cut short (RabbitMQ "
            f"closes the channel and redelivers) and counts as a failed attempt; give it a "
            f"timeout below {consumer_timeout:g}s"
        )
    if timeout >= consumer_timeout:
        return (
            f"task {task} may run {timeout:g}s, at or above {limit}: RabbitMQ closes the channel "
            "and redelivers; lower the timeout or raise consumer_timeout"
        )
    return None
