"""``mserve --schedules``: the scheduler on a thread of its own beside the worker's loop.

The lock lives on the broker of the first schedule's publisher_consumer (by schedule name);
each run is published, with confirms, by the publisher of its own publisher_consumer.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

from mqwire.topology.model import Schedule

from ..errors import ConfigurationError
from ..tls import TlsSettings
from ..wiring.factories import ConsumerSpec
from ..wiring.registry import Registry
from .scheduler import Lock, Scheduler

#: The lock's default name: one scheduler per vhost (``--schedule-lock`` for shared vhosts).
DEFAULT_LOCK = "mqwire.scheduler"


def lock_broker(registry: Registry) -> tuple[str, TlsSettings | None]:
    """Where the lock is held: the broker (URL and TLS) of the first schedule's
    publisher_consumer.

    Raises:
        ConfigurationError: no schedules, or that publisher_consumer has no broker.
    """
    if not registry.schedules:
        raise ConfigurationError("--schedules: the topology has no schedules: section")
    first = registry.schedules[min(registry.schedules)]
    spec = registry.consumer(first.publisher_consumer)
    if not isinstance(spec, ConsumerSpec) or not spec.settings.url:
        raise ConfigurationError(
            f"--schedules: schedule {first.name!r} publishes through "
            f"{first.publisher_consumer!r}, which has no broker (local transport) to hold "
            "the scheduler's lock on"
        )
    return spec.settings.url, spec.settings.tls


def publisher_fire(registry: Registry) -> Callable[[Schedule, float, str], None]:
    """Publish a run as its schedule says: JSON body, confirmed, ``mandatory``."""

    def fire(schedule: Schedule, due: float, message_id: str) -> None:
        registry.publisher(schedule.publisher_consumer).publish(
            body=json.loads(schedule.body),
            routing_key=schedule.routing_key,
            properties={"content_type": "application/json", "message_id": message_id},
        )

    return fire


def start(registry: Registry, lock: Lock) -> tuple[Scheduler, threading.Thread, threading.Event]:
    """Run a scheduler for ``registry``'s schedules on a daemon thread until the event is set."""
    scheduler = Scheduler(registry.schedules, lock, publisher_fire(registry))
    stop = threading.Event()
    thread = threading.Thread(
        target=scheduler.run, args=(stop,), name="mqwire.scheduler", daemon=True
    )
    thread.start()
    return scheduler, thread, stop
