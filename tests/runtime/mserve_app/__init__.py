"""Tasks served by ``mserve`` in the worker tests; each records what it ran to a file.

The worker is a separate process, so side effects go to the file named by ``MSERVE_TEST_LOG``:
one line per event, ``event queue id pid``, written with one ``write`` on an ``O_APPEND`` file,
so a ``kill -9`` never leaves half a line.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import os
import signal
import threading
import time
from typing import Any

from mqwire.runtime import Middleware, TaskOutcome
from mqwire.runtime.client_metrics import outcome_of


def _note(event: str, request: Any) -> None:
    _write(f"{event} {request.queue} {request.params.get('id')} {os.getpid()}")


def _write(line: str) -> None:
    fd = os.open(os.environ["MSERVE_TEST_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, f"{line}\n".encode())
    finally:
        os.close(fd)


#: The "span" a tracer would make current: ``queue:id`` of the message being handled.
SPAN: contextvars.ContextVar[str] = contextvars.ContextVar("span", default="-")
TRACE_HEADER = "x-test-trace"


class Recording(Middleware):
    """Records every hook call: ``event queue id pid detail``, the event naming the hook (and
    the outcome); carries the current span in a header, as a tracer's propagator would.

    ``before_task`` notes the header it got; ``after_task`` the span it sees (set by
    ``before_task``: the same context) and the error's type; ``after_publish`` the seconds.
    """

    def before_publish(self, message: Any) -> Any:
        _write(f"before_publish {message.routing_key} {_id(message)} {os.getpid()} {SPAN.get()}")
        return message.with_headers({TRACE_HEADER: SPAN.get()})

    def after_publish(self, message: Any, error: Any, seconds: float) -> None:
        event = f"after_publish:{outcome_of(error)}"
        _write(f"{event} {message.routing_key} {_id(message)} {os.getpid()} {seconds:.6f}")

    def before_task(self, request: Any) -> None:
        trace = request.headers.get(TRACE_HEADER, "none")
        _write(f"before_task {request.queue} {request.params.get('id')} {os.getpid()} {trace}")
        SPAN.set(f"{request.queue}:{request.params.get('id')}")

    def after_task(self, request: Any, outcome: TaskOutcome) -> None:
        error = type(outcome.error).__name__ if outcome.error else "-"
        event = f"after_task:{outcome.result}"
        where = f"{request.queue} {request.params.get('id')} {os.getpid()}"
        _write(f"{event} {where} {SPAN.get()}:{error}")


def _id(message: Any) -> Any:
    return json.loads(message.body).get("id")


def record(context: Any, request: Any) -> None:
    """Records the message, after ``seconds`` of work when the body asks for it.

    A body with ``pad`` must have kept all of it (``pad_length`` characters) on the way;
    one with ``die`` kills its worker process (SIGKILL), as a crash in C would.
    """
    if request.params.get("die"):
        _note("dying", request)
        os.kill(os.getpid(), signal.SIGKILL)
    if len(request.params.get("pad", "")) != request.params.get("pad_length", 0):
        raise ValueError(f"message {request.params.get('id')} lost part of its body")
    time.sleep(float(request.params.get("seconds", 0)))
    _note("done", request)


async def record_async(context: Any, request: Any) -> None:
    await asyncio.sleep(0)
    _note("done", request)


def slow(context: Any, request: Any) -> None:
    """Works for ``seconds`` (the task's own duration, not a test's synchronisation)."""
    _note("started", request)
    time.sleep(float(request.params.get("seconds", 1)))
    _note("done", request)


def fail_when_bad(context: Any, request: Any) -> None:
    if request.params.get("bad"):
        _note("failed", request)
        raise ValueError(f"refusing message {request.params.get('id')}")
    _note("done", request)


def hold(context: Any, request: Any) -> None:
    """Works ``seconds`` as the body's ``mode`` says, or not at all; records start and end.

    ``spin``: pure Python, which the worker's interrupt stops at once. ``block``: waits in C
    (a lock), which no interrupt reaches until the wait returns.
    """
    _note("started", request)
    seconds = float(request.params.get("seconds", 0))
    if request.params.get("mode") == "spin":
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            pass
    elif request.params.get("mode") == "block":
        threading.Event().wait(seconds)
    _note("done", request)


def gate(context: Any, request: Any) -> None:
    """Runs until the file named by the body's ``path`` exists: the test opens the gate."""
    _note("started", request)
    while not os.path.exists(request.params["path"]):
        time.sleep(0.02)  # the task's own polling, not a test's synchronisation
    _note("done", request)


def delivered(context: Any, request: Any) -> None:
    """Works ``seconds``, then records ``redelivered`` if the broker had sent it before."""
    time.sleep(float(request.params.get("seconds", 0)))
    _note("redelivered" if request.redelivered else "done", request)


def gated(context: Any, request: Any) -> None:
    """Waits for the gate (the file ``path``) if the body names one, then fails (``bad``) or
    publishes the follow-up ``{"id": id}`` to queue ``followups`` (``follow``).

    Records ``started``, then ``failed``, or ``published`` / ``unpublished`` with the
    follow-up's fate as the task saw it (an unknown outcome is ``unpublished``).
    """
    _note("started", request)
    path = request.params.get("path")
    while path and not os.path.exists(path):
        time.sleep(0.02)  # the task's own polling, not a test's synchronisation
    if request.params.get("bad"):
        _note("failed", request)
        raise ValueError(f"refusing message {request.params.get('id')}")
    publisher = request.registry.publisher("work")
    try:
        publisher.publish({"id": request.params.get("id")}, routing_key="followups")
    except Exception:
        _note("unpublished", request)
        raise
    _note("published", request)


def record_run(context: Any, request: Any) -> None:
    """Records the message id: a scheduled run's id names its schedule and due instant."""
    line = f"done {request.queue} {request.message_id} {os.getpid()}\n"
    fd = os.open(os.environ["MSERVE_TEST_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def fail_first(context: Any, request: Any) -> None:
    """Fails the first attempt of each message, then records it: a retry must come back."""
    if request.attempt == 1:
        _note("failed", request)
        raise ValueError(f"first attempt of message {request.params.get('id')}")
    _note("done", request)


#: Set while ``fan_out`` publishes its follow-ups; ``wait_for_fan_out`` notes what it saw.
FANNING_OUT = {"now": False}
_FAN_OUT_STARTED = asyncio.Event()  # bound to the worker's loop on first use


async def fan_out(context: Any, request: Any) -> None:
    """Publish ``count`` follow-ups to ``request.params['key']``, one by one and confirmed:
    awaited (``apublish``) or, with ``blocking``, with ``publish()``, which holds the loop."""
    publisher = request.registry.publisher(request.params.get("publisher", "work"))
    _note("fan_out_start", request)
    FANNING_OUT["now"] = True
    _FAN_OUT_STARTED.set()
    try:
        for n in range(int(request.params["count"])):
            body = {"id": f"{request.params['id']}.{n}"}
            if request.params.get("blocking"):
                publisher.publish(body=body, routing_key=request.params["key"])
            else:
                await publisher.apublish(body=body, routing_key=request.params["key"])
    finally:
        FANNING_OUT["now"] = False
    _note("fan_out_end", request)


async def wait_for_fan_out(context: Any, request: Any) -> None:
    """Wait until ``fan_out`` began, then note whether it is still publishing: ``during``
    if this task ran while the follow-ups were being confirmed."""
    await _FAN_OUT_STARTED.wait()
    _note("during" if FANNING_OUT["now"] else "after", request)
