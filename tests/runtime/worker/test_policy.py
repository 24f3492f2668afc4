"""The worker's pure policies: reconnect waits, and which broker errors end the process."""

from __future__ import annotations

import itertools

import pytest
from pika import exceptions  # type: ignore[import-untyped]

from mqwire.runtime.errors import ExitCode, fatal_error
from mqwire.runtime.worker.policy import backoff


def test_backoff_doubles_from_half_a_second_up_to_the_cap() -> None:
    waits = list(itertools.islice(backoff(cap=4, rng=lambda: 1.0), 7))
    assert waits == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0]


def test_backoff_jitter_scales_each_wait_between_half_and_all_of_it() -> None:
    low = list(itertools.islice(backoff(cap=30, rng=lambda: 0.0), 3))
    assert low == [0.25, 0.5, 1.0]


def refused_login() -> BaseException:
    closed = exceptions.ConnectionClosedByBroker(403, "ACCESS_REFUSED - Login was refused")
    return exceptions.ProbableAuthenticationError(repr(closed))


@pytest.mark.parametrize(
    ("error", "during", "code"),
    [
        (refused_login(), "connecting to amqp://u:***@h/", ExitCode.CONFIG),
        (
            exceptions.ProbableAccessDeniedError(
                repr(exceptions.ConnectionClosedByBroker(530, "NOT_ALLOWED - vhost x not found"))
            ),
            "connecting",
            ExitCode.CONFIG,
        ),
        (exceptions.ChannelClosedByBroker(403, "ACCESS_REFUSED"), "declaring queue 'q'", 2),
        (
            exceptions.ChannelClosedByBroker(
                406, "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue 'q'"
            ),
            "declaring queue 'q'",
            ExitCode.TOPOLOGY_MISMATCH,
        ),
    ],
)
def test_refusals_the_broker_will_repeat_are_fatal(
    error: BaseException, during: str, code: ExitCode
) -> None:
    fatal = fatal_error(error, during)

    assert fatal is not None and fatal.exit_code == code


def test_too_few_channels_for_the_queues_is_a_configuration_error_not_an_outage() -> None:
    fatal = fatal_error(exceptions.NoFreeChannels(), "opening a channel")

    assert fatal is not None and fatal.exit_code == ExitCode.CONFIG
    assert "channel_max" in str(fatal) and "fewer queues" in str(fatal)


def test_a_mismatch_names_the_queue_and_the_argument_and_says_what_to_do() -> None:
    error = exceptions.ChannelClosedByBroker(
        406, "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue 'q'"
    )
    fatal = fatal_error(error, "declaring queue 'q'")

    assert fatal is not None
    assert "declaring queue 'q'" in str(fatal) and "'x-max-length'" in str(fatal)
    assert "migrate the queue" in str(fatal)


@pytest.mark.parametrize(
    ("error", "during"),
    [
        # a broker going down while we log in: pika calls it a probable authentication error
        (exceptions.ProbableAuthenticationError(repr(exceptions.StreamLostError("EOF"))), "c"),
        (exceptions.ConnectionClosedByBroker(320, "CONNECTION_FORCED - shutdown"), "c"),
        (exceptions.AMQPConnectionError("connection refused"), "connecting"),
        (exceptions.ChannelClosedByBroker(404, "NOT_FOUND - no exchange 'x'"), "declaring"),
        (exceptions.ChannelClosedByBroker(406, "PRECONDITION_FAILED - unknown tag"), "acking"),
    ],
)
def test_what_a_reconnect_may_cure_is_not_fatal(error: BaseException, during: str) -> None:
    assert fatal_error(error, during) is None
