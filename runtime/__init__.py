"""What applications import: tasks, loading the compiled wiring, publishing, the local transport.

pika is not imported here: only an AMQP publisher (created by ``load`` for an amqp
publisher_consumer) imports it, so applications on the local transport never need a broker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mqwire.topology._lazy import lazy_exports

if TYPE_CHECKING:
    from .decorator import task_config
    from .errors import (
        BatchPublishError,
        ConfigurationError,
        DecodeError,
        EncodeError,
        MessageSchemaError,
        PublishBlocked,
        PublishConnectionError,
        PublishError,
        PublishNacked,
        PublishTimeout,
        PublishTlsError,
        Unroutable,
    )
    from .middleware import Middleware, TaskOutcome
    from .publish.base import Publisher
    from .publish.local import DeadLetter, LocalBroker
    from .publish.local_publisher import LocalPublisherConsumer
    from .request import DefaultResource, MessageRequest
    from .wiring.configurator import Configurator, resolve_dotted
    from .wiring.load import load
    from .wiring.registry import Registry, dispatch_task

_EXPORTS = {
    "BatchPublishError": ".errors",
    "ConfigurationError": ".errors",
    "Configurator": ".wiring.configurator",
    "DeadLetter": ".publish.local",
    "DecodeError": ".errors",
    "DefaultResource": ".request",
    "EncodeError": ".errors",
    "LocalBroker": ".publish.local",
    "LocalPublisherConsumer": ".publish.local_publisher",
    "MessageRequest": ".request",
    "MessageSchemaError": ".errors",
    "Middleware": ".middleware",
    "PublishBlocked": ".errors",
    "PublishConnectionError": ".errors",
    "PublishError": ".errors",
    "PublishNacked": ".errors",
    "PublishTimeout": ".errors",
    "PublishTlsError": ".errors",
    "Publisher": ".publish.base",
    "Registry": ".wiring.registry",
    "TaskOutcome": ".middleware",
    "Unroutable": ".errors",
    "dispatch_task": ".wiring.registry",
    "load": ".wiring.load",
    "resolve_dotted": ".wiring.configurator",
    "task_config": ".decorator",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = [
    "BatchPublishError",
    "ConfigurationError",
    "Configurator",
    "DeadLetter",
    "DecodeError",
    "DefaultResource",
    "EncodeError",
    "LocalBroker",
    "LocalPublisherConsumer",
    "MessageRequest",
    "MessageSchemaError",
    "Middleware",
    "PublishBlocked",
    "PublishConnectionError",
    "PublishError",
    "PublishNacked",
    "PublishTimeout",
    "PublishTlsError",
    "Publisher",
    "Registry",
    "TaskOutcome",
    "Unroutable",
    "dispatch_task",
    "load",
    "resolve_dotted",
    "task_config",
]
