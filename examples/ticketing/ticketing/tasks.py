"""Tasks listed under ``tasks:`` in the topology."""

from __future__ import annotations

import random
from typing import Any

from .resources import CartResource
from .store import EVENTS, HELD_SEATS


def release_cart(context: CartResource, request: Any) -> None:
    """Give a cart's held seats back when it expires or is abandoned."""
    seats = HELD_SEATS.pop(context.cart_id, [])
    EVENTS.append(("release_cart", {"cart_id": context.cart_id, "seats": len(seats)}))


def elect_lots(context: Any, request: Any) -> None:
    """Draw the winners of a lottery, reproducibly from its seed."""
    params = request.params
    applicants = list(params.get("applicants", []))
    winners = sorted(
        random.Random(params.get("seed", 0)).sample(
            applicants, min(len(applicants), int(params.get("seats", 1)))
        )
    )
    EVENTS.append(("elect_lots", {"lottery_id": params.get("lottery_id"), "winners": winners}))
    # Follow-up work is published, not called: each mail is its own message that can fail and
    # retry alone. The worker confirms these publishes before it acks the election.
    publisher = request.registry.publisher("lots")
    for winner in winners:
        publisher.publish(
            body={"lottery_id": params.get("lottery_id"), "to": winner},
            routing_key="lots.winner.mail",
        )
