"""One delivery through ``dispatch``: the request a task sees, and ack, retry or dead-letter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pika  # type: ignore[import-untyped]
import pytest

from mqwire.runtime import DefaultResource, MessageRequest
from mqwire.runtime.body_schema import body_validator
from mqwire.runtime.dispatch import (
    ATTEMPT_HEADER,
    ATTEMPTS_HEADER,
    EXCEPTION_HEADER,
    FAILED_AT_HEADER,
    QUEUE_HEADER,
    REASON_HEADER,
    TASK_HEADER,
    Action,
    Delivery,
    Outcome,
    QueuePolicy,
    TaskEntry,
    dead_letter_properties,
    failure_outcome,
    retry_properties,
)
from mqwire.runtime.errors import DecodeError, MessageSchemaError
from mqwire.runtime.publish.inline import dispatch
from mqwire.topology import delays as ladder
from mqwire.topology.model import DEFAULT_MAX_BODY_BYTES

JSON = {"content_type": "application/json"}


class Recorder:
    """A task that records its (context, request) calls, and raises ``error`` if given one."""

    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[tuple[Any, MessageRequest]] = []
        self.error = error

    def __call__(self, context: Any, request: MessageRequest) -> None:
        self.calls.append((context, request))
        if self.error is not None:
            raise self.error


def policy(
    task: Callable[..., Any] | None,
    *,
    delays: tuple[float, ...] = (),
    root_factory: Callable[..., Any] | None = None,
    validate: Callable[[Any], None] | None = None,
    max_body: int = DEFAULT_MAX_BODY_BYTES,
    accept: frozenset[str] = frozenset(),
) -> QueuePolicy:
    entry = None if task is None else TaskEntry("work", task, "jobs", root_factory=root_factory)
    return QueuePolicy("jobs", entry, delays, validate, max_body, accept)


def delivery(body: bytes = b'{"id": 7}', attempt: Any = None, **properties: Any) -> Delivery:
    props: dict[str, Any] = {**JSON, "message_id": "m-1", **properties}
    if attempt is not None:
        props["headers"] = {**props.get("headers", {}), ATTEMPT_HEADER: attempt}
    return Delivery("jobs", body, props, "jobs.created", "shop")


def test_a_task_that_returns_is_acked() -> None:
    task = Recorder()

    assert dispatch(delivery(), policy(task)) == Outcome(Action.ACK, "work")
    assert len(task.calls) == 1


def test_the_request_carries_every_field_of_the_delivery() -> None:
    task = Recorder()
    registry, settings = object(), {"app.mode": "test"}
    message = Delivery(
        queue="jobs",
        body=b'{"id": 7}',
        properties={**JSON, "message_id": "m-9", "headers": {"tenant": "t1", ATTEMPT_HEADER: 2}},
        routing_key="jobs.created",
        exchange="shop",
        redelivered=True,
        delivery_tag=42,
    )

    dispatch(message, policy(task), registry=registry, settings=settings)

    ((_, request),) = task.calls
    assert request == MessageRequest(
        body=b'{"id": 7}',
        params={"id": 7},
        json={"id": 7},
        content_type="application/json",
        headers={"tenant": "t1", ATTEMPT_HEADER: 2},
        properties=message.properties,
        routing_key="jobs.created",
        exchange="shop",
        queue="jobs",
        task_name="work",
        message_id="m-9",
        attempt=2,
        redelivered=True,
        delivery_tag=42,
        registry=registry,
        settings=settings,
    )
    assert request.registry is registry


def test_a_delivery_without_headers_or_settings_gets_empty_ones() -> None:
    task = Recorder()

    dispatch(Delivery("jobs", b"raw", {}, "jobs"), policy(task, accept=frozenset({"*/*"})))

    ((_, request),) = task.calls
    assert request.headers == {} and request.settings == {}
    assert request.message_id == "" and request.content_type is None
    assert (request.json, request.params, request.attempt) == (None, {}, 1)


@pytest.mark.parametrize("exchange", [ladder.DELIVERY_EXCHANGE, ladder.level_exchange(3)])
def test_a_delayed_message_tells_the_task_where_it_was_published(exchange: str) -> None:
    task = Recorder()
    key = ladder.routing_key(9, "shop", "jobs.created")

    dispatch(delivery()._replace(exchange=exchange, routing_key=key), policy(task))
    dispatch(delivery()._replace(exchange=exchange, routing_key="not.a.ladder.key"), policy(task))

    (_, delayed), (_, odd) = task.calls
    assert (delayed.exchange, delayed.routing_key) == ("shop", "jobs.created")
    assert (odd.exchange, odd.routing_key) == (exchange, "not.a.ladder.key")  # kept as is


def test_the_context_comes_from_the_root_factory_called_with_the_request() -> None:
    task = Recorder()
    seen: list[MessageRequest] = []

    def root_factory(request: MessageRequest) -> str:
        seen.append(request)
        return f"order {request.params['id']}"

    dispatch(delivery(), policy(task, root_factory=root_factory))

    ((context, request),) = task.calls
    assert context == "order 7" and seen == [request]


def test_without_a_root_factory_the_context_is_a_default_resource() -> None:
    task = Recorder()

    dispatch(delivery(), policy(task))

    ((context, request),) = task.calls
    assert type(context) is DefaultResource and context.request is request


def test_a_queue_without_task_is_dead_lettered() -> None:
    outcome = dispatch(delivery(), policy(None))

    assert outcome == Outcome(Action.DEAD_LETTER, None, reason="no task consumes queue 'jobs'")


@pytest.mark.parametrize("body", [b"{bad", b"\xff", b"[" * 100_000 + b"]" * 100_000])
def test_an_undecodable_body_is_dead_lettered_at_once_despite_retries(body: bytes) -> None:
    task = Recorder()

    outcome = dispatch(delivery(body), policy(task, delays=(1, 5)))

    assert outcome.action is Action.DEAD_LETTER and outcome.task == "work"
    assert isinstance(outcome.error, DecodeError)
    assert outcome.reason.startswith("body is not valid JSON")
    assert task.calls == []


def test_a_body_breaking_the_schema_is_dead_lettered_at_once_with_the_reason() -> None:
    task = Recorder()
    validate = body_validator({"type": "object", "required": ["name"]}, "jobs")

    outcome = dispatch(delivery(), policy(task, delays=(1,), validate=validate))

    assert outcome.action is Action.DEAD_LETTER and isinstance(outcome.error, MessageSchemaError)
    assert "'name' is a required property" in outcome.reason
    assert task.calls == []


def test_the_schema_sees_the_decoded_json_not_only_objects() -> None:
    seen: list[Any] = []

    dispatch(delivery(b"[1, 2]"), policy(Recorder(), validate=seen.append))

    assert seen == [[1, 2]]


def test_the_schema_checks_a_form_body_as_its_fields_and_null_json_as_null() -> None:
    seen: list[Any] = []
    form = {"content_type": "application/x-www-form-urlencoded"}

    dispatch(delivery(b"id=3&tag=a&tag=b", **form), policy(Recorder(), validate=seen.append))
    dispatch(delivery(b"null"), policy(Recorder(), validate=seen.append))

    assert seen == [{"id": "3", "tag": ["a", "b"]}, None]


def test_a_body_too_deep_for_a_recursive_schema_is_dead_lettered_not_raised() -> None:
    # The validator used to let RecursionError escape, so dispatch raised instead of judging.
    validate = body_validator({"type": "array", "items": {"$ref": "#"}}, "jobs")
    body = b"[" * 600 + b"]" * 600  # json.loads manages; a recursive schema check does not

    outcome = dispatch(delivery(body), policy(Recorder(), validate=validate))

    assert outcome.action is Action.DEAD_LETTER and isinstance(outcome.error, MessageSchemaError)
    assert "nested too deeply" in outcome.reason and "'jobs'" in outcome.reason


@pytest.mark.parametrize(("attempt", "delay"), [(1, 1.0), (2, 5.0), (3, 30.0)])
def test_a_failing_task_is_retried_with_the_delay_of_its_attempt(
    attempt: int, delay: float
) -> None:
    error = ValueError("no stock")

    outcome = dispatch(delivery(attempt=attempt), policy(Recorder(error), delays=(1, 5, 30)))

    assert outcome == Outcome(Action.RETRY, "work", delay=delay, reason="ValueError: no stock")
    assert outcome.error is error


def test_after_the_last_delay_a_failing_task_is_dead_lettered() -> None:
    outcome = dispatch(delivery(attempt=4), policy(Recorder(KeyError("id")), delays=(1, 5, 30)))

    assert outcome == Outcome(Action.DEAD_LETTER, "work", reason="KeyError: 'id'")


def test_without_retry_delays_the_first_failure_is_dead_lettered() -> None:
    outcome = dispatch(delivery(), policy(Recorder(RuntimeError("boom"))))

    assert outcome.action is Action.DEAD_LETTER and outcome.reason == "RuntimeError: boom"


def test_a_root_factory_that_raises_counts_as_the_task_failing() -> None:
    task = Recorder()

    def root_factory(request: MessageRequest) -> Any:
        raise LookupError("no such order")

    outcome = dispatch(delivery(), policy(task, delays=(2,), root_factory=root_factory))

    assert outcome == Outcome(Action.RETRY, "work", delay=2, reason="LookupError: no such order")
    assert task.calls == []


@pytest.mark.parametrize("bogus", [True, 0, -2, "3", 2.0, None])
def test_an_attempt_header_that_is_no_positive_int_counts_as_the_first(bogus: Any) -> None:
    message = delivery(headers={ATTEMPT_HEADER: bogus})

    assert message.attempt == 1
    outcome = dispatch(message, policy(Recorder(ValueError()), delays=(1, 5)))
    assert outcome.delay == 1


def test_retry_properties_count_the_attempt_up_and_keep_everything_else() -> None:
    message = delivery(attempt=2, headers={"tenant": "t1"}, priority=4)

    props = retry_properties(message)

    assert props == {
        **message.properties,
        "headers": {"tenant": "t1", ATTEMPT_HEADER: 3},
    }
    assert message.headers[ATTEMPT_HEADER] == 2  # the delivery itself is left alone


def test_retry_properties_start_from_a_bogus_attempt_as_the_first() -> None:
    assert retry_properties(delivery(attempt="7"))["headers"][ATTEMPT_HEADER] == 2


def test_dead_letter_properties_say_why_where_when_and_after_how_many_attempts() -> None:
    message = delivery(attempt=3, headers={"tenant": "t1"}, priority=4)
    outcome = failure_outcome(message, policy(Recorder(), delays=(1, 5)), ValueError("x" * 2000))

    props = dead_letter_properties(message, outcome, now=1_700_000_000.9)

    headers = props.pop("headers")
    assert props == {k: v for k, v in message.properties.items() if k != "headers"}
    assert headers == {
        "tenant": "t1",
        ATTEMPT_HEADER: 3,
        REASON_HEADER: ("ValueError: " + "x" * 2000)[:1000],
        EXCEPTION_HEADER: "ValueError",
        TASK_HEADER: "work",
        QUEUE_HEADER: "jobs",
        ATTEMPTS_HEADER: 3,
        FAILED_AT_HEADER: 1_700_000_000,
    }


def test_dead_letter_properties_without_task_or_error_leave_those_headers_empty() -> None:
    message = delivery()
    outcome = dispatch(message, policy(None))

    headers = dead_letter_properties(message, outcome, now=5)["headers"]

    assert (headers[TASK_HEADER], headers[EXCEPTION_HEADER]) == ("", "")
    assert headers[REASON_HEADER] == "no task consumes queue 'jobs'"
    assert headers[ATTEMPTS_HEADER] == 1


def test_a_body_over_the_queue_limit_is_dead_lettered_before_it_is_decoded() -> None:
    task = Recorder()
    at_limit = b'{"pad": "' + b"x" * 989 + b'"}'
    assert len(at_limit) == 1000

    assert dispatch(delivery(at_limit), policy(task, max_body=1000)).action is Action.ACK
    outcome = dispatch(delivery(at_limit + b" "), policy(task, max_body=1000))

    assert outcome.action is Action.DEAD_LETTER and len(task.calls) == 1
    assert (
        outcome.reason == "body of 1001 bytes is over queue 'jobs''s limit of 1000 (max_body_bytes)"
    )


@pytest.mark.parametrize("content_type", ["text/plain", "application/octet-stream"])
def test_a_content_type_the_queue_does_not_accept_is_dead_lettered_with_the_reason(
    content_type: str,
) -> None:
    task = Recorder()

    refused = dispatch(delivery(b"hello", content_type=content_type), policy(task))
    accepted = dispatch(
        delivery(b"hello", content_type=content_type),
        policy(task, accept=frozenset({content_type})),
    )

    assert refused.action is Action.DEAD_LETTER
    assert refused.reason.startswith(f"content type {content_type!r} is not one this queue accepts")
    assert accepted.action is Action.ACK
    ((_, request),) = task.calls
    assert (request.body, request.json, request.params) == (b"hello", None, {})


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("broken __str__")


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (ValueError("bad body \ud800 near here"), "ValueError: bad body \\ud800 near here"),
        (Unprintable(), "Unprintable: <str() of the exception failed>"),
        (ValueError("é" * 2000), "ValueError: " + "é" * 988),
    ],
)
def test_every_dead_letter_header_can_be_encoded_whatever_the_task_raised(
    error: Exception, reason: str
) -> None:
    def task(context: Any, request: Any) -> None:
        raise error

    outcome = dispatch(delivery(), policy(task))
    props = dead_letter_properties(delivery(), outcome, now=1_700_000_000.0)

    assert outcome.reason == reason and props["headers"][REASON_HEADER] == reason
    pika.BasicProperties(**props).encode()  # pika's own encoder: it raised before
