"""Client-side metrics: connection states and losses, publish outcomes by kind, the text."""

from __future__ import annotations

import pytest

from mqwire.runtime.client_metrics import ClientMetrics, ConnectionState, outcome_of
from mqwire.runtime.errors import (
    PublishBlocked,
    PublishConnectionError,
    PublishError,
    PublishNacked,
    PublishTimeout,
    Unroutable,
)


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (None, "confirmed"),
        (PublishNacked("x"), "nacked"),
        (Unroutable("x"), "returned"),
        (PublishBlocked("x"), "blocked"),  # before its base class, PublishConnectionError
        (PublishTimeout("x", outcome_unknown=True), "timeout"),
        (PublishConnectionError("x"), "connection"),
        (PublishError("x"), "error"),
    ],
)
def test_each_publish_error_has_its_outcome(error: PublishError | None, outcome: str) -> None:
    assert outcome_of(error) == outcome


def test_a_loss_counts_only_when_leaving_an_open_connection() -> None:
    state = ConnectionState("c")
    for step in ["connecting", "reconnecting", "connected", "blocked", "reconnecting",
                 "connected", "reconnecting", "reconnecting", "closed"]:  # fmt: skip
        state.set(step)
    assert (state.state, state.losses) == ("closed", 2)
    with pytest.raises(ValueError, match="unknown connection state 'up'"):
        state.set("up")


def test_render_small_scenario_exactly() -> None:
    metrics = ClientMetrics()
    metrics.connection("mqwire-publisher:b").set("connected")
    assert metrics.connection("mqwire-publisher:b") is metrics.connection("mqwire-publisher:b")
    stats = metrics.publisher("b")
    stats.record([None, None], 0.002)
    stats.record([Unroutable("x")], 0.04)
    lines = metrics.render().splitlines()
    assert [line for line in lines if not line.startswith("#") and "bucket" not in line] == [
        'mqwire_connection_state{connection="mqwire-publisher:b",state="idle"} 0',
        'mqwire_connection_state{connection="mqwire-publisher:b",state="connecting"} 0',
        'mqwire_connection_state{connection="mqwire-publisher:b",state="connected"} 1',
        'mqwire_connection_state{connection="mqwire-publisher:b",state="blocked"} 0',
        'mqwire_connection_state{connection="mqwire-publisher:b",state="reconnecting"} 0',
        'mqwire_connection_state{connection="mqwire-publisher:b",state="closed"} 0',
        'mqwire_connection_losses_total{connection="mqwire-publisher:b"} 0',
        'mqwire_published_total{publisher="b",outcome="confirmed"} 2',
        'mqwire_published_total{publisher="b",outcome="nacked"} 0',
        'mqwire_published_total{publisher="b",outcome="returned"} 1',
        'mqwire_published_total{publisher="b",outcome="blocked"} 0',
        'mqwire_published_total{publisher="b",outcome="timeout"} 0',
        'mqwire_published_total{publisher="b",outcome="connection"} 0',
        'mqwire_published_total{publisher="b",outcome="error"} 0',
        'mqwire_publish_seconds_sum{publisher="b"} 0.044',
        'mqwire_publish_seconds_count{publisher="b"} 3',
    ]
    assert 'mqwire_publish_seconds_bucket{publisher="b",le="0.0025"} 2' in lines
    assert 'mqwire_publish_seconds_bucket{publisher="b",le="0.05"} 3' in lines
    assert "# TYPE mqwire_published_total counter" in lines
