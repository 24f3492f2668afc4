"""What crosses the wire: an encoded message, the same for the AMQP and the local transport."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class WireMessage:
    """An encoded message ready to publish.

    ``properties`` uses pika's ``BasicProperties`` field names (``content_type``,
    ``delivery_mode``, ``message_id``, ``headers``, ``priority``, ...); ``message_id`` is
    always set, so every outcome can be traced to one message.
    """

    exchange: str
    routing_key: str
    body: bytes
    message_id: str
    properties: Mapping[str, Any] = field(default_factory=dict)
    mandatory: bool = True

    def with_headers(self, headers: Mapping[str, Any]) -> WireMessage:
        """A copy whose ``headers`` property has ``headers`` added (replacing equal keys): what
        a middleware's ``before_publish`` returns to carry, say, a trace context."""
        merged = {**(self.properties.get("headers") or {}), **headers}
        return dataclasses.replace(self, properties={**self.properties, "headers": merged})


def new_message_id() -> str:
    """A random version-4 UUID in hex, exactly what ``uuid.uuid4().hex`` gives.

    Every published message gets one; building the ``UUID`` object showed up in ``publish()``'s
    profile.
    """
    n = int.from_bytes(os.urandom(16), "big")
    n = (n & ~(0xC000 << 48) | (0x8000 << 48)) & ~(0xF000 << 64) | (4 << 76)  # variant, version
    return f"{n:032x}"


#: pika ``BasicProperties`` fields, in the order AMQP defines them.
PROPERTY_NAMES = (
    "content_type",
    "content_encoding",
    "headers",
    "delivery_mode",
    "priority",
    "correlation_id",
    "reply_to",
    "expiration",
    "message_id",
    "timestamp",
    "type",
    "user_id",
    "app_id",
    "cluster_id",
)


def properties_dict(properties: Any) -> dict[str, Any]:
    """The set fields of a received ``BasicProperties``, as a plain dict (pika-free callers).

    pika sets every field in ``__init__``, in AMQP order, so the instance dict is read as is
    (cheaper than one ``getattr`` per field); an object without one is read field by field.
    """
    fields = getattr(properties, "__dict__", None)
    if fields is None:
        fields = {name: getattr(properties, name, None) for name in PROPERTY_NAMES}
    return {name: value for name, value in fields.items() if value is not None}
