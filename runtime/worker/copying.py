"""Publishing a failed message's retry or dead-letter copy: a few attempts with backoff, then stop.

A copy that cannot be published must never send its input straight back to the queue: the task
would run again at once, with its side effects, as fast as the broker redelivers (thousands of
runs in seconds with a deleted dead-letter queue). So the copy gets a bounded number of attempts
with growing waits, and the caller decides what happens to the input after the last one.

A copy returned unroutable (312 NO_ROUTE: the default exchange has no such queue) means its
retry or dead-letter queue was deleted: it is redeclared from the plan and published again at
once, as one of the attempts.

A copy sent is never sent again while its fate is unknown: the copier waits for its confirm
as long as it takes, across a resource alarm (a copy not yet sent while the broker blocks
publishing waits unsent until it unblocks). Only a lost connection ends that wait with an
unknown outcome; the copy is then sent again, and may arrive twice (``settling`` says how a
retry copy's twin is kept from running the task again).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from functools import partial

from mqwire.topology.declarations import Declarations

from ..errors import Lost, PublishError, Unroutable, WorkerError
from ..wire import WireMessage
from .ports import OutcomePublisher, Session, Submitted

log = logging.getLogger("mqwire.worker")

#: Seconds until a copy still waiting for its confirm is logged (then twice as long each time).
REPORT_EVERY = 30.0

#: Waits (seconds) before each attempt after the first; a fresh iterator per copy.
Waits = Callable[[], Iterator[float]]
#: Declares the queue of that name again from the plan; False when it could not.
Redeclare = Callable[[str], Awaitable[bool]]
Sleep = Callable[[float], Awaitable[None]]


class Copier:
    """Publishes one copy with at most ``1 + len(waits())`` attempts; loop thread only."""

    def __init__(
        self,
        name: str,
        outcomes: OutcomePublisher,
        redeclare: Redeclare,
        waits: Waits,
        sleep: Sleep = asyncio.sleep,
        report_every: float = REPORT_EVERY,
    ) -> None:
        self._name, self._outcomes, self._redeclare = name, outcomes, redeclare
        self._waits, self._sleep, self._report_every = waits, sleep, report_every

    async def publish(
        self,
        message: WireMessage,
        wanted: Callable[[], bool] = lambda: True,
        resent: Callable[[WireMessage], None] = lambda message: None,
    ) -> Exception | None:
        """``None`` once the broker confirmed the copy; else the last attempt's error.

        ``wanted()`` is asked before each further attempt: once the input's channel is gone
        the copy is pointless (the redelivery is settled from the ledger instead).
        ``resent(message)`` is called before the copy is sent again although the broker may
        have the first one (its connection was lost before the confirm). Cancelled (a forced
        stop): a copy not sent yet is withdrawn.
        """
        waits = self._waits()
        attempt = 1
        while True:
            error = await self._send(message)
            if error is None:
                return None
            if not isinstance(error, PublishError):  # it could not be encoded: the same again
                return error
            redeclared = isinstance(error, Unroutable) and await self._redeclare(
                message.routing_key
            )
            wait = next(waits, None)
            if wait is None:
                return error
            log.warning(
                "%s: copying message %s to %r failed (attempt %d): %s; %s",
                self._name, message.message_id, message.routing_key, attempt, error,
                "queue redeclared, publishing again" if redeclared else f"again in {wait:.1f} s",
            )  # fmt: skip
            if not redeclared:
                await self._sleep(wait)
            if not wanted():
                return error
            if error.outcome_unknown:
                resent(message)
            attempt += 1

    async def _send(self, message: WireMessage) -> Exception | None:
        """Send once and wait for the outcome, however long the broker takes to confirm."""
        loop = asyncio.get_running_loop()
        submit = partial(self._outcomes.submit, [message], blocked_timeout=math.inf)
        submitting = loop.run_in_executor(None, submit)
        try:
            (sent,) = await asyncio.shield(submitting)
        except asyncio.CancelledError:  # stopped meanwhile: withdraw it once it is handed over
            submitting.add_done_callback(_withdraw)
            raise
        except Exception as exc:  # e.g. EncodeError: refused before anything was sent
            return exc
        outcome = asyncio.wrap_future(sent.future)
        began, report = time.monotonic(), self._report_every
        try:
            while not (await asyncio.wait({outcome}, timeout=report))[0]:
                report *= 2  # 30 s, then 60 s later, ...: a long alarm does not flood the log
                log.warning(
                    "%s: the copy %s to %r has no outcome yet after %.0f s (the broker "
                    "blocks publishing or holds its confirm); still waiting: it is not sent "
                    "twice", self._name, message.message_id, message.routing_key,
                    time.monotonic() - began,
                )  # fmt: skip
        except asyncio.CancelledError:
            sent.future.cancel()  # withdrawn if not sent yet; else its fate stays unknown
            raise
        if outcome.cancelled():
            return PublishError(f"the copy {message.message_id} was withdrawn before it was sent")
        return outcome.result()


def _withdraw(submitting: asyncio.Future[Sequence[Submitted]]) -> None:
    if not submitting.cancelled() and submitting.exception() is None:
        for sent in submitting.result():
            sent.future.cancel()  # a no-op once it was sent


async def redeclare(name: str, plan: Declarations, session: Session | None, queue: str) -> bool:
    """Declare ``queue`` (a retry or dead-letter queue of ``plan``) again; True once done."""
    declaration = next((q for q in plan.queues if q.name == queue), None)
    if declaration is None or session is None:  # not ours, or reconnecting: just try again
        return False
    try:
        await session.declare_queue(declaration)
    except (Lost, WorkerError) as exc:  # a 406 also closes the session: the reconnect says it
        log.warning("%s: redeclaring the missing queue %r failed: %s", name, queue, exc)
        return False
    log.warning("%s: the queue %r was missing: redeclared it", name, queue)
    return True
