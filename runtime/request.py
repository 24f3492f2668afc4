"""The request a task receives: the message, where it came from, and a way back to the registry."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .interfaces import TaskRegistry


@dataclass(slots=True)
class MessageRequest:
    """One delivery of one message to one task, as ``task(context, request)`` sees it.

    ``params`` is the decoded JSON object (or form fields); ``json`` any decoded JSON value;
    ``body`` the raw bytes. ``attempt`` counts from 1 and grows with each retry. ``registry``
    reaches the publishers (``request.registry.publisher("lots")``) and ``settings`` the flat
    settings.

    Built once per delivery and read by nobody after the task returns, so it is a plain
    slotted dataclass: a frozen one sets each field through ``object.__setattr__``, a
    visible share of the worker's time per message. Slots
    still refuse new attributes; keep per-request state on the context.
    """

    body: bytes
    params: Mapping[str, Any]
    json: Any
    content_type: str | None
    headers: Mapping[str, Any]
    properties: Mapping[str, Any]
    routing_key: str
    exchange: str
    queue: str
    task_name: str
    message_id: str
    attempt: int = 1
    redelivered: bool = False
    delivery_tag: int | None = None
    registry: TaskRegistry | None = None
    settings: Mapping[str, str] = field(default_factory=dict)


class DefaultResource:
    """The context of a task without a root factory: it only remembers the request."""

    def __init__(self, request: MessageRequest) -> None:
        self.request = request
