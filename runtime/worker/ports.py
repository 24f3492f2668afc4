"""What the worker needs from the broker, as protocols: the AMQP edge provides them, fakes too.

The worker never sees pika: the session (``runtime.amqp.session``) hands it decoded
``Delivery`` values on ``ConsumerChannel``s and raises only ``Lost`` or a fatal ``WorkerError``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Future
from typing import Protocol

from mqwire.topology.declarations import Declarations, QueueDeclaration

from ..dispatch import Delivery
from ..errors import PublishError
from ..wire import WireMessage


class ConsumerChannel(Protocol):
    """One queue's consuming channel; delivery tags mean something on it alone."""

    @property
    def is_open(self) -> bool: ...

    def basic_ack(self, delivery_tag: int, multiple: bool = False) -> None:
        """Raises ``Lost`` when the channel is gone."""

    def basic_nack(self, delivery_tag: int, requeue: bool = True) -> None:
        """Raises ``Lost`` when the channel is gone."""

    def cancel(self) -> None:
        """Stop deliveries to this channel's consumers (nothing when it is closed)."""


#: Called on the loop with the channel a delivery must be settled on.
OnMessage = Callable[[ConsumerChannel, Delivery], None]

#: Called on the loop when the broker closed one consuming channel and the connection stays:
#: ``(reason, consumer_timeout)``, the flag set when a delivery went unacked past the broker's
#: ``consumer_timeout`` (406). The channel's unacked deliveries go back to the queue.
OnClosed = Callable[[str, bool], None]


class Session(Protocol):
    """One consuming connection; any call raises ``Lost`` or a fatal ``WorkerError``."""

    masked_url: str

    async def connect(self) -> None: ...

    async def declare(self, plan: Declarations, keep_free: int = 0) -> None:
        """Exchanges, queues and bindings, on channels of their own, leaving ``keep_free`` of
        the connection's channels for the consuming ones opened next: idempotent."""

    async def declare_queue(self, queue: QueueDeclaration) -> None:
        """One queue of the plan again (deleted under us), on a channel of its own."""

    async def consume(
        self,
        queue: str,
        prefetch: int,
        on_message: OnMessage,
        on_cancel: Callable[[], None],
        on_closed: OnClosed,
        ready: Awaitable[None] | None = None,
    ) -> ConsumerChannel:
        """A channel of its own consuming ``queue``; ``on_cancel()`` if the broker ends that,
        ``on_closed`` if the broker closes that channel alone (not a loss of the session).
        ``ready``: awaited (its error raised) once the channel is set up, before consuming: the
        start-up's declarations, so the channel is opened while the broker creates queues."""

    def interrupt(self) -> None:
        """Stopping: waiting calls end with ``Lost``, and channel closes are no longer losses."""

    async def close(self) -> None:
        """Close the connection (unacked messages go back to their queues); idempotent."""


#: Builds a session that calls ``on_lost(reason)`` once it is lost after opening.
SessionFactory = Callable[[Callable[[str], None]], Session]


class Submitted(Protocol):
    """A message handed to the outcomes publisher, on its way."""

    @property
    def future(self) -> Future[PublishError | None]:
        """Ends with the outcome (``None``: confirmed). ``cancel()`` succeeds only while
        nothing of the message was sent: then it never will be."""


class OutcomePublisher(Protocol):
    """Publishes the retry and dead-letter copies, confirmed; may block briefly, so run
    ``submit`` off the loop, then await the futures."""

    def submit(
        self, messages: Sequence[WireMessage], *, blocked_timeout: float | None = None
    ) -> Sequence[Submitted]:
        """``blocked_timeout``: how long a message may wait unsent while the broker blocks
        publishing (``math.inf``: until it unblocks)."""

    def close(self) -> None: ...
