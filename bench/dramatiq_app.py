"""Dramatiq's side of the benchmark: a no-op actor on queue ``bench``, no retries.

The worker runs ``dramatiq dramatiq_app:broker --processes 1 --threads 1`` with ``bench/`` on
its path, ``BENCH_AMQP_URL`` and ``dramatiq_queue_prefetch`` (Dramatiq's own setting) in its
environment, so its prefetch is the same as the other contenders'.
"""

from __future__ import annotations

import os
from typing import Any

import dramatiq  # type: ignore[import-untyped]
from dramatiq.brokers.rabbitmq import RabbitmqBroker  # type: ignore[import-untyped]

QUEUE = "bench"
ACTOR = "noop"


def noop(**payload: Any) -> None:
    return None


def make_broker(url: str) -> Any:
    """A broker with publisher confirms (``send()`` waits for each) and the no-op actor."""
    broker = RabbitmqBroker(url=url, confirm_delivery=True)
    dramatiq.actor(noop, broker=broker, actor_name=ACTOR, queue_name=QUEUE, max_retries=0)
    return broker


broker = make_broker(os.environ.get("BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F"))
