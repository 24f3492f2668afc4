"""Kept so that compiled INIs naming ``mqwire.runtime.consumer.pika_client_factory`` keep loading.

The factory and ``ConsumerSpec`` live in ``mqwire.runtime.wiring.factories``.
"""

from __future__ import annotations

from .wiring.factories import ConsumerSpec, pika_client_factory

__all__ = ["ConsumerSpec", "pika_client_factory"]
