"""The scheduler's lock on the broker: an exclusive queue, and its last runs in a queue too.

Only one connection can hold an exclusive queue of a given name; another declaring it gets
405 RESOURCE_LOCKED. The broker deletes it the moment the holder's connection closes (a
killed process's socket closes at once; a dead machine is noticed by missed heartbeats), so a
waiting scheduler takes over within its poll interval. The last run of each schedule lives in
``<name>.state``, a durable queue holding one message (``x-max-length: 1``: publishing the
new record drops the old one), read with ``basic_get`` and given back, never consumed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import pika  # type: ignore[import-untyped]
from pika.exceptions import AMQPError, ChannelClosedByBroker  # type: ignore[import-untyped]

from ..errors import BrokerError, ConfigurationError, describe_error
from ..tls import TlsSettings
from .nodes import Nodes
from .params import tls_refusal

log = logging.getLogger("mqwire.scheduler")

#: The reply code of a declare of an exclusive queue another connection holds.
RESOURCE_LOCKED = 405
#: The state queue's arguments: one message, the newest.
STATE_ARGUMENTS = {"x-max-length": 1}


class BrokerLock:
    """``mqwire.scheduler`` (or ``name``) on the broker at ``url``, for one scheduler."""

    def __init__(
        self, url: str, name: str, *, heartbeat: int | None = 30, tls: TlsSettings | None = None
    ) -> None:
        self.name, self.state_queue = name, f"{name}.state"
        self._nodes = Nodes(url, name=f"mserve:scheduler:{name}", tls=tls, heartbeat=heartbeat)
        self._connection: Any = None
        self._channel: Any = None

    def try_acquire(self) -> bool:
        """Declare the lock queue; False while another scheduler holds it or the broker is away.

        Raises:
            ConfigurationError: a TLS handshake that can never succeed, or access refused.
        """
        try:
            if self._connection is None or not self._connection.is_open:
                self._connection = pika.BlockingConnection(self._nodes.current)
            channel = self._connection.channel()
            channel.queue_declare(self.name, exclusive=True)
            channel.queue_declare(self.state_queue, durable=True, arguments=STATE_ARGUMENTS)
            channel.confirm_delivery()
        except ChannelClosedByBroker as exc:
            if exc.reply_code == RESOURCE_LOCKED:
                return False
            raise ConfigurationError(
                f"scheduler lock {self.name!r} on {self._nodes.where}: "
                f"{exc.reply_code} {exc.reply_text}"
            ) from None
        except (AMQPError, OSError) as exc:  # pika raises a failed TLS handshake as it is
            refused = tls_refusal(exc, self._nodes.current)  # its own thread: a probe may block
            if refused is not None:
                raise ConfigurationError(f"{self._nodes.where}: {refused}") from None
            log.warning("scheduler: cannot reach %s: %s", self._nodes.where, describe_error(exc))
            self._drop()
            self._nodes.move_on()  # a cluster's next node, next time
            return False
        self._channel = channel
        return True

    def wait(self, seconds: float) -> bool:
        """Serve the connection (heartbeats) for ``seconds``; False if it is gone."""
        if self._connection is None:
            return False
        try:
            self._connection.process_data_events(time_limit=seconds)
        except AMQPError as exc:
            where = self._nodes.where
            log.warning("scheduler: connection to %s lost: %s", where, describe_error(exc))
            self._drop()
            self._nodes.move_on()
            return False
        return bool(self._connection.is_open)

    def load_state(self) -> dict[str, float]:
        """The last run of each schedule, as recorded (empty when none was)."""
        try:
            method, _, body = self._channel.basic_get(self.state_queue, auto_ack=False)
            if method is None:
                return {}
            self._channel.basic_nack(method.delivery_tag, requeue=True)
        except AMQPError as exc:
            self._drop()
            raise BrokerError(f"reading {self.state_queue!r}: {describe_error(exc)}") from None
        try:
            data = json.loads(body)
            return {str(k): float(v) for k, v in data.items()}
        except (ValueError, TypeError, AttributeError):
            log.warning("scheduler: %r holds no run record; starting afresh", self.state_queue)
            return {}

    def save_state(self, state: Mapping[str, float]) -> None:
        """Record the last runs (persistent, confirmed); the older record is dropped."""
        body = json.dumps(dict(sorted(state.items())), separators=(",", ":")).encode()
        properties = pika.BasicProperties(delivery_mode=2, content_type="application/json")
        try:
            self._channel.basic_publish("", self.state_queue, body, properties, mandatory=True)
        except AMQPError as exc:
            self._drop()
            text = f"recording runs in {self.state_queue!r}: {describe_error(exc)}"
            raise BrokerError(text) from None

    def release(self) -> None:
        """Close the connection: the broker deletes the lock queue, another may take over."""
        self._drop()

    def _drop(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except AMQPError:
                log.debug("scheduler: closing the lock's connection failed", exc_info=True)
