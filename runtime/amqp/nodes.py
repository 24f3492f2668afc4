"""The broker nodes one connection may use: one URL, or one per node of a cluster.

RabbitMQ clients connect to one node; a cluster's other nodes route to the queues wherever
they live. So a fleet spreads over the cluster, each process starts at a random node, and a
connection that fails or is lost moves on to the next node for its next attempt (the caller's
backoff and jitter stay as they are). Every publisher, worker and lock connection goes through
this, so the logs name the node each one is on.
"""

from __future__ import annotations

import random
from typing import Any

from mqwire.topology.amqp_url import split_urls
from mqwire.topology.credentials import mask_resolved_url

from ..errors import ConfigurationError
from ..tls import TlsSettings
from .params import connection_parameters


class Nodes:
    """Each node's ``pika`` parameters, and the one a connection uses now."""

    def __init__(
        self,
        url: str,
        *,
        name: str,
        tls: TlsSettings | None = None,
        heartbeat: int | None = None,
        connect_timeout: float | None = None,
        first: int | None = None,
    ) -> None:
        """``url``: one URL, or several separated by blanks (as settings hold a cluster's).
        ``first``: the node to start at (default: a random one, for this process).

        Raises:
            ConfigurationError: no URL, or one that ``connection_parameters`` refuses.
        """
        urls = split_urls(url)
        if not urls:
            raise ConfigurationError(f"{name}: no AMQP URL to connect to")
        self.parameters = [
            connection_parameters(
                u, name=name, tls=tls, heartbeat=heartbeat, connect_timeout=connect_timeout
            )
            for u in urls
        ]
        self.masked = [mask_resolved_url(u) for u in urls]
        self.index = random.randrange(len(urls)) if first is None else first % len(urls)

    def __len__(self) -> int:
        return len(self.parameters)

    @property
    def current(self) -> Any:
        """The ``pika.URLParameters`` of the node to connect to now."""
        return self.parameters[self.index]

    @property
    def where(self) -> str:
        """That node's URL, fit for logs (password masked)."""
        return self.masked[self.index]

    def move_on(self) -> None:
        """After a failed or lost connection: the next attempt goes to the next node."""
        self.index = (self.index + 1) % len(self.parameters)
