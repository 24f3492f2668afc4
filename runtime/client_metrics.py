"""What health depends on, client side: each connection's state, each publisher's outcomes.

Pure counters, no I/O and no third-party imports. A registry holds one ``ClientMetrics`` (no
global state): ``load()``'s publishers register their ``PublisherStats`` and connection state in
it, ``mserve`` adds its own connections, ``mserve --http`` serves ``render()`` on ``/metrics``, and
``mqwire.runtime.prometheus`` exposes the same families through prometheus_client.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from .errors import (
    PublishBlocked,
    PublishConnectionError,
    PublishError,
    PublishNacked,
    PublishTimeout,
    Unroutable,
)
from .exposition import Family, Histogram, Sample, check_buckets, render

CONNECTION_STATE = "mqwire_connection_state"
CONNECTION_LOSSES = "mqwire_connection_losses_total"
PUBLISHED = "mqwire_published_total"
PUBLISH_SECONDS = "mqwire_publish_seconds"

#: A connection's states, in the order their series are written.
STATES = ("idle", "connecting", "connected", "blocked", "reconnecting", "closed")
#: What a publish can come to, in the order their series are written.
OUTCOMES = ("confirmed", "nacked", "returned", "blocked", "timeout", "connection", "error")
#: From publish() to the confirm: a confirm takes a millisecond or so, a disk sync more.
PUBLISH_BUCKETS: tuple[float, ...] = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
)  # fmt: skip


def outcome_of(error: PublishError | None) -> str:
    """The ``outcome`` label of a publish: ``confirmed``, or what kept it from being so."""
    if error is None:
        return "confirmed"
    for kind, label in _KINDS:
        if isinstance(error, kind):
            return label
    return "error"


#: Most specific first: ``PublishBlocked`` is a ``PublishConnectionError``.
_KINDS: tuple[tuple[type[PublishError], str], ...] = (
    (PublishNacked, "nacked"),
    (Unroutable, "returned"),
    (PublishBlocked, "blocked"),
    (PublishTimeout, "timeout"),
    (PublishConnectionError, "connection"),
)


class ConnectionState:
    """One connection's state, and how often it was lost once open.

    Set by whoever owns the connection (a publisher's I/O thread, the worker's loop) and read
    by ``/metrics``: one attribute, so no lock.
    """

    __slots__ = ("losses", "name", "state")

    def __init__(self, name: str) -> None:
        self.name, self.state, self.losses = name, "idle", 0

    def set(self, state: str) -> None:
        if state not in STATES:
            raise ValueError(f"unknown connection state {state!r}; expected one of {STATES}")
        if state == "reconnecting" and self.state in ("connected", "blocked"):
            self.losses += 1
        self.state = state


class PublisherStats:
    """One publisher's outcomes by kind and the seconds each publish waited for its outcome."""

    def __init__(self, name: str, buckets: Sequence[float] = PUBLISH_BUCKETS) -> None:
        self.name = name
        self._lock = threading.Lock()
        self.outcomes = dict.fromkeys(OUTCOMES, 0)
        self.seconds = Histogram(check_buckets(buckets))

    def record(self, outcomes: Sequence[PublishError | None], seconds: float) -> None:
        """Each of ``outcomes`` came ``seconds`` after its publish began; any thread."""
        with self._lock:
            for error in outcomes:
                self.outcomes[outcome_of(error)] += 1
                self.seconds.observe(seconds)

    def samples(self) -> tuple[list[Sample], list[Sample]]:
        """The outcome counters' samples and the histogram's, read at one moment."""
        labels = (("publisher", self.name),)
        with self._lock:
            counted = [
                Sample(PUBLISHED, (*labels, ("outcome", o)), n) for o, n in self.outcomes.items()
            ]
            return counted, self.seconds.samples(PUBLISH_SECONDS, labels)


class ClientMetrics:
    """The publishers' stats and the connections' states of one registry (or process)."""

    def __init__(self) -> None:
        self._publishers: dict[str, PublisherStats] = {}
        self._connections: dict[str, ConnectionState] = {}
        self._lock = threading.Lock()

    def publisher(self, name: str) -> PublisherStats:
        """The stats of publisher ``name``, made on first use."""
        with self._lock:
            stats = self._publishers.get(name)
            if stats is None:
                stats = self._publishers[name] = PublisherStats(name)
            return stats

    def connection(self, name: str) -> ConnectionState:
        """The state of connection ``name`` (its AMQP ``connection_name``), made on first use."""
        with self._lock:
            state = self._connections.get(name)
            if state is None:
                state = self._connections[name] = ConnectionState(name)
            return state

    def families(self) -> list[Family]:
        """Every series, sorted by connection and publisher name."""
        with self._lock:
            connections = sorted(self._connections.items())
            publishers = sorted(self._publishers.items())
        states, losses, published, seconds = [], [], [], []
        for name, connection in connections:
            current = connection.state
            states += [
                Sample(CONNECTION_STATE, (("connection", name), ("state", s)), int(s == current))
                for s in STATES
            ]
            losses.append(Sample(CONNECTION_LOSSES, (("connection", name),), connection.losses))
        for _, stats in publishers:
            counted, waited = stats.samples()
            published += counted
            seconds += waited
        return [
            Family(
                CONNECTION_STATE, "gauge",
                "1 for the state each broker connection is in (idle until first used; blocked: "
                "by a resource alarm; reconnecting: lost, or not opened yet after a failure).",
                states,
            ),
            Family(
                CONNECTION_LOSSES, "counter", "Times a broker connection was lost once open.",
                losses,
            ),
            Family(
                PUBLISHED, "counter",
                "Messages published, by outcome: confirmed, nacked (basic.nack), returned "
                "(unroutable), blocked (resource alarm, not sent), timeout, connection, error.",
                published,
            ),
            Family(
                PUBLISH_SECONDS, "histogram",
                "Seconds from publish() (a batch: its sending) to the message's outcome.",
                seconds,
            ),
        ]  # fmt: skip

    def render(self) -> str:
        return render(self.families())
