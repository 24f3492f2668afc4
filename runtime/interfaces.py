"""The shapes tasks and transports rely on, apart from the classes that implement them.

A task reaches publishers through ``request.registry``. The request, the judge (``dispatch``)
and the local transport need that registry's shape, not the ``wiring`` package that builds
the registry (which imports them): Pyramid keeps its interfaces in one module for the same
reason. ``Registry`` and every publisher satisfy these protocols.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Protocol


class PublishBatch(Protocol):
    """What ``with publisher.batch() as batch:`` gives: publishes sent when the block ends."""

    @property
    def message_ids(self) -> list[str]: ...

    def publish(self, body: Any, routing_key: str, **options: Any) -> str: ...


class Publisher(Protocol):
    """What every publisher offers; the AMQP and local ones are interchangeable."""

    name: str

    def publish(
        self,
        body: Any,
        routing_key: str,
        properties: Mapping[str, Any] | None = None,
        exchange: str | None = None,
        mandatory: bool = True,
        *,
        blocked_timeout: float | None = None,
        delay: float | timedelta | None = None,
    ) -> str: ...

    def batch(self) -> contextlib.AbstractContextManager[PublishBatch]: ...

    async def apublish(
        self,
        body: Any,
        routing_key: str,
        properties: Mapping[str, Any] | None = None,
        exchange: str | None = None,
        mandatory: bool = True,
        *,
        blocked_timeout: float | None = None,
        delay: float | timedelta | None = None,
    ) -> str: ...

    def abatch(self) -> contextlib.AbstractAsyncContextManager[PublishBatch]: ...

    def close(self) -> None: ...


class TaskRegistry(Protocol):
    """What a task may use of the registry that runs it (``request.registry``)."""

    @property
    def settings(self) -> Mapping[str, str]: ...

    def publisher(self, name: str) -> Publisher: ...
