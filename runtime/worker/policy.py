"""The worker's policies, kept free of pika: how long to wait, when to give up, what is fatal."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..errors import ExitCode, WorkerError, describe_error, innermost


@dataclass(frozen=True)
class WorkerOptions:
    concurrency: int = 1  #: plain tasks run at once (threads); coroutines are bounded by prefetch
    grace: float = 30.0  #: seconds in-flight tasks get to finish after SIGTERM
    max_unreachable: float = 300.0  #: give up (exit 3) after the broker is down this long
    backoff_cap: float = 30.0  #: longest wait between reconnect attempts


def backoff(cap: float, rng: Callable[[], float] = random.random) -> Iterator[float]:
    """Exponential waits with jitter: 0.5 s, 1 s, 2 s ... up to ``cap``, each scaled by [0.5, 1)

    so that many workers restarted together do not reconnect in lockstep.
    """
    base = 0.5
    while True:
        yield base * (0.5 + rng() / 2)
        base = min(cap, base * 2)


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
    if code == 406 and during.startswith("declaring"):
        return WorkerError(
            f"{during}: {describe_error(exc)}; the broker keeps the existing definition: "
            "migrate the queue (new name, or drain and delete it) or fix the topology",
            ExitCode.TOPOLOGY_MISMATCH,
        )
    return None
