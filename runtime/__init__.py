"""What applications import: tasks, loading the compiled wiring, publishing, the local transport.

pika is not imported here: only an AMQP publisher (created by ``load`` for an amqp
publisher_consumer) imports it, so applications on the local transport never need a broker.
"""

from __future__ import annotations

from .decorator import task_config
from .errors import (
    BatchPublishError,
    ConfigurationError,
    DecodeError,
    EncodeError,
    MessageSchemaError,
    PublishConnectionError,
    PublishError,
    PublishNacked,
    PublishTimeout,
    Unroutable,
)
from .publish.base import Publisher
from .publish.local import DeadLetter, LocalBroker, LocalPublisherConsumer
from .request import DefaultResource, MessageRequest
from .wiring.configurator import Configurator, resolve_dotted
from .wiring.load import load
from .wiring.registry import Registry, dispatch_task

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
    "PublishConnectionError",
    "PublishError",
    "PublishNacked",
    "PublishTimeout",
    "Publisher",
    "Registry",
    "Unroutable",
    "dispatch_task",
    "load",
    "resolve_dotted",
    "task_config",
]
