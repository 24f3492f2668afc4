"""Errors of the runtime layer; pika's own exceptions are translated into these at the edge."""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence

from mqwire.topology.errors import MqError

from .tls_failures import tls_failure


def innermost(exc: BaseException) -> BaseException:
    """The exception pika wrapped (a failed connect is three deep): it says what happened."""
    for _ in range(5):
        one = getattr(exc, "exception", None)  # pika's AMQPConnector*Error keep it here
        inner = getattr(exc, "exceptions", None) or ((one,) if one is not None else exc.args)
        if not inner or not isinstance(inner[-1], BaseException):
            break
        exc = inner[-1]
    return exc


def describe_error(exc: BaseException) -> str:
    """A one-line cause, with reply code and text when the broker gave them."""
    exc = innermost(exc)
    code, text = getattr(exc, "reply_code", None), getattr(exc, "reply_text", None)
    if code is not None:
        return f"{type(exc).__name__}: {code} {text}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else repr(exc)


def missing_exchange(exc: BaseException) -> str | None:
    """The exchange a 404 channel close names (a publish to one never declared), or None."""
    exc = innermost(exc)
    if getattr(exc, "reply_code", None) != 404:
        return None
    found = re.search(r"no exchange '(.*)' in vhost", str(getattr(exc, "reply_text", "")))
    return found.group(1) if found else None


def missing_exchange_text(exchange: str) -> str:
    """Why a publish to a never-declared exchange failed, and the fix (nothing was delivered)."""
    return (
        f"exchange {exchange!r} does not exist on the broker (404 NOT_FOUND): the message was "
        "not delivered. Declare the topology first: run `mqctl CONFIG apply`, or start mserve"
    )


class ConfigurationError(MqError):
    """Settings, a registry or a name lookup is wrong; raised at start-up, never per message."""


class EncodeError(MqError):
    """A body cannot be serialised for the wire (raised before anything is sent)."""


class DecodeError(MqError):
    """A received body does not match its content type (the message is dead-lettered)."""


class MessageSchemaError(MqError):
    """A body breaks its queue's JSON Schema: refused at publish, dead-lettered on receipt."""


class PublishError(MqError):
    """A message was not confirmed by the broker; what exactly happened is in the subclass.

    Attributes:
        message_id: the ``message_id`` property of the message concerned.
        exchange, routing_key: where it was sent.
        outcome_unknown: the message was sent and may still reach its queue (a lost
            connection before the confirm, a timeout): publishing it again may duplicate it.
    """

    def __init__(
        self,
        message: str,
        *,
        message_id: str = "",
        exchange: str = "",
        routing_key: str = "",
        outcome_unknown: bool = False,
    ) -> None:
        super().__init__(message)
        self.message_id, self.exchange, self.routing_key = message_id, exchange, routing_key
        self.outcome_unknown = outcome_unknown


class PublishNacked(PublishError):
    """The broker refused the message (basic.nack), e.g. a full queue with reject-publish."""


class Unroutable(PublishError):
    """No queue is bound for the routing key (basic.return with ``mandatory``)."""


class PublishConnectionError(PublishError):
    """The broker could not be reached, or the connection or channel closed before the confirm.

    The outcome is unknown: the broker may or may not have the message. Publishing again may
    create a duplicate, which at-least-once consumers must tolerate anyway.
    """


class PublishBlocked(PublishConnectionError):
    """The broker blocks the connection (a memory or disk alarm): the message was not sent.

    Raised at once by default, or once the caller's ``blocked_timeout`` passed with the
    connection still blocked. Nothing of the message reached the broker
    (``outcome_unknown`` is false): publishing it again later cannot duplicate it.
    """


class PublishTlsError(PublishError):
    """The TLS handshake with the broker failed (its certificate, its host name, or our client
    certificate): nothing was sent. A configuration error, which retrying does not fix."""


class PublishTimeout(PublishError):
    """No confirm arrived in time: the outcome is unknown (``outcome_unknown``) if the message
    was sent, and it may still be confirmed and delivered later."""


def unknown_publish(error: BaseException) -> PublishError | None:
    """The publish error with an unknown outcome behind ``error`` (itself or a cause), if any.

    A task that failed because its follow-up's fate is unknown did not fail as its error says:
    the follow-up may arrive. Only the first few links of the cause chain are looked at.
    """
    seen: BaseException | None = error
    for _ in range(5):
        if seen is None:
            return None
        if isinstance(seen, PublishError) and seen.outcome_unknown:
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


class BatchPublishError(PublishError):
    """Some messages of a batch were not confirmed; ``failures`` says which and why.

    Attributes:
        failures: ``(index in the batch, error)`` for each failed message, in batch order.
        published: how many messages of the batch were confirmed.
    """

    def __init__(self, failures: Sequence[tuple[int, PublishError]], published: int) -> None:
        self.failures = tuple(failures)
        self.published = published
        first_index, first = self.failures[0]
        super().__init__(
            f"{len(self.failures)} of {len(self.failures) + published} messages were not "
            f"published; first: #{first_index} ({type(first).__name__}: {first})",
            message_id=first.message_id,
            exchange=first.exchange,
            routing_key=first.routing_key,
        )


class BrokerError(MqError):
    """The broker could not be reached or refused an operation; the message says which."""

    def __init__(self, message: str, reply_code: int = 0) -> None:
        super().__init__(message)
        self.reply_code = reply_code


class BrokerUnreachable(BrokerError):
    """No connection to the broker could be opened."""


class ManagementUnavailable(MqError):
    """The management API did not answer, refused the credentials or sent something else."""


class TaskTimeout(MqError):
    """A task ran past its ``timeout:``; the message is retried or dead-lettered like a failure.

    The timeout counts from when the task starts. A coroutine task is cancelled; in a plain
    task's thread this exception is raised (``runtime.interrupt``). A task still
    running ``--timeout-grace`` seconds later is abandoned and counted as stuck.
    """


class ConsumerTimeoutExpired(MqError):
    """The broker's ``consumer_timeout`` expired while a task ran: it closed the channel.

    The broker redelivers the message; the worker counts that run as a failed attempt (retry
    or dead-letter by the queue's policy) instead of running it again at once.
    """


class ExitCode(enum.IntEnum):
    """``mserve``'s exit status; supervisors restart on non-zero, operators read the name."""

    OK = 0  #: stopped by a signal, every in-flight task finished and acked
    FORCED_STOP = 1  #: second signal or grace period over: in-flight messages were requeued
    CONFIG = 2  #: bad settings, registry import error, or credentials/permissions refused
    UNREACHABLE = 3  #: the broker stayed unreachable longer than ``--max-unreachable``
    TOPOLOGY_MISMATCH = 4  #: a queue or exchange exists with other arguments (406)
    STUCK = 6  #: ``--max-stuck`` abandoned tasks still running: replace the process
    CRASH_LOOP = 8  #: ``--processes``: children kept dying; the group stopped


class Lost(Exception):
    """The worker's connection or one of its channels went away: reconnect, it may come back.

    Raised by the broker session (the edge translates pika's errors into this or a fatal
    ``WorkerError``), so the worker and its test fakes never see a pika exception.
    """


class WorkerError(MqError):
    """A fatal worker condition: reconnecting would not help; ``exit_code`` says which."""

    def __init__(self, message: str, exit_code: ExitCode) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def tls_problem(exc: BaseException) -> str | None:
    """What is wrong with TLS, if that is why ``exc`` (a failed connect) happened; see
    :func:`.tls_failures.tls_failure`. Retrying never helps: a configuration error."""
    return tls_failure(innermost(exc), str(exc))


def fatal_error(exc: BaseException, during: str) -> WorkerError | None:
    """The exit code for errors a reconnect cannot fix; ``None`` when retrying may help."""
    code = getattr(exc, "reply_code", None)
    inner = innermost(exc)
    names = {type(exc).__name__, type(inner).__name__}
    code = code or getattr(inner, "reply_code", None)
    # pika guesses "authentication" for any connection closed during login, a broker
    # shutting down included: only the broker's own refusal is final.
    refused = any(word in str(inner) for word in ("ACCESS_REFUSED", "NOT_ALLOWED"))
    probable = {"ProbableAuthenticationError", "ProbableAccessDeniedError"}
    if "AuthenticationError" in names or (names & probable and refused):
        return WorkerError(
            f"the broker refused the credentials or vhost ({during})", ExitCode.CONFIG
        )
    if code in (403, 530):
        return WorkerError(f"access refused {during}: {describe_error(exc)}", ExitCode.CONFIG)
    tls = tls_problem(exc)
    if tls is not None:
        return WorkerError(f"{during}: {tls}", ExitCode.CONFIG)
    if "NoFreeChannels" in names:  # pika ran out of the channels the broker allows
        return WorkerError(
            f"{during}: the broker allows fewer channels per connection (channel_max) than "
            "this worker needs, one per queue and one for its declarations: raise the "
            "broker's channel_max or consume fewer queues per publisher_consumer",
            ExitCode.CONFIG,
        )
    if code == 406 and during.startswith("declaring"):
        return WorkerError(
            f"{during}: {describe_error(exc)}; the broker keeps the existing definition: "
            "migrate the queue (new name, or drain and delete it) or fix the topology",
            ExitCode.TOPOLOGY_MISMATCH,
        )
    return None
