"""Middleware: code run around every task and every publish (tracing, error reports, metrics).

Dramatiq's shape: a class whose hook methods do nothing. A middleware overrides the hooks it
needs and only those are ever called (``Chain`` keeps the overridden ones), so an unused hook
costs nothing, and no middleware at all costs one falsy check per message.

Error rules, chosen so that a middleware can never lose or multiply a message:

- ``before_publish`` raising fails that publish before anything is sent, as an ``EncodeError``
  does: the exception reaches the caller (with a note naming the hook).
- ``before_task`` raising is the task's failure: the task does not run, and the message is
  retried or dead-lettered by its queue's policy.
- ``after_task`` and ``after_publish`` raising is logged and ignored: the outcome stands (a
  confirmed message raising would be published again by its caller).
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from .errors import EncodeError
from .wire import WireMessage

if TYPE_CHECKING:
    from .errors import PublishError
    from .request import MessageRequest

log = logging.getLogger("mqwire.middleware")

T = TypeVar("T")

#: The hooks a middleware may override, in the order a message meets them.
HOOKS = ("before_publish", "after_publish", "before_task", "after_task")


class TaskOutcome(NamedTuple):
    """How a delivery ended, as ``after_task`` sees it.

    ``result`` is the word the worker logs and counts: ``ack``, ``retry``, ``dead-letter``,
    ``requeue`` (given back unjudged: a stop), ``dropped`` (its channel closed: the broker
    redelivers it), ``parked`` or ``rejected`` (its retry or dead-letter copy could not be
    published). ``error`` is the task's exception (or a ``before_task`` hook's), if any.
    """

    result: str
    error: BaseException | None = None
    reason: str = ""


class Middleware:
    """Base class of middleware: override the hooks you need; the others are never called.

    Hooks run in the order the middleware are listed; ``after_*`` hooks in reverse order, so
    the first middleware wraps all the others.
    """

    def before_publish(self, message: WireMessage) -> WireMessage | None:
        """Called in ``publish()`` once the body is encoded, before anything is sent; return
        a changed message (``message.with_headers(...)``) or None to keep it."""
        return None

    def after_publish(
        self, message: WireMessage, error: PublishError | None, seconds: float
    ) -> None:
        """Called once the broker confirmed the message (``error`` None) or it failed, in the
        publishing thread; ``seconds`` from the ``publish()`` call (a batch: its sending)."""

    def before_task(self, request: MessageRequest) -> None:
        """Called right before the task, where it runs: its thread for a plain task, its
        asyncio task for an ``async def`` one, in a ``contextvars`` context of its own."""

    def after_task(self, request: MessageRequest, outcome: TaskOutcome) -> None:
        """Called once the delivery is settled, in the same context as ``before_task``; on
        the worker's event loop (keep it quick), or in the publishing thread (local)."""


def overrides(middleware: object, hook: str) -> bool:
    """Whether ``middleware`` has its own ``hook`` (a subclass's, or a duck-typed one)."""
    own = getattr(type(middleware), hook, None)
    return own is not None and own is not getattr(Middleware, hook)


class Chain:
    """The hooks of an ordered list of middleware: only those each one overrides.

    Raises:
        TypeError: an item overrides none of the hooks (a class given instead of an
            instance, say).
    """

    __slots__ = (
        "after_publish", "after_task", "before_publish", "before_task", "middleware",
        "publishes", "tasks",
    )  # fmt: skip

    def __init__(self, middleware: Sequence[object] = ()) -> None:
        for item in middleware:
            if isinstance(item, type) or not any(overrides(item, h) for h in HOOKS):
                raise TypeError(
                    f"{item!r} is not a middleware: give an instance overriding at least one "
                    f"of {', '.join(HOOKS)} (see mqwire.runtime.middleware.Middleware)"
                )
        self.middleware = tuple(middleware)
        hooks = {h: [getattr(m, h) for m in middleware if overrides(m, h)] for h in HOOKS}
        self.before_publish: tuple[Callable[[WireMessage], WireMessage | None], ...] = tuple(
            hooks["before_publish"]
        )
        self.after_publish: tuple[Callable[..., None], ...] = tuple(
            reversed(hooks["after_publish"])
        )
        self.before_task: tuple[Callable[[Any], None], ...] = tuple(hooks["before_task"])
        self.after_task: tuple[Callable[[Any, TaskOutcome], None], ...] = tuple(
            reversed(hooks["after_task"])
        )
        #: Whether publishing, or running a task, has any hook to call.
        self.publishes = bool(self.before_publish or self.after_publish)
        self.tasks = bool(self.before_task or self.after_task)

    def __bool__(self) -> bool:
        return bool(self.middleware)

    def __repr__(self) -> str:
        return f"Chain({list(self.middleware)!r})"


def before_publish(chain: Chain, message: WireMessage) -> WireMessage:
    """Run the ``before_publish`` hooks in order; the message to send.

    Raises:
        Exception: a hook's, unchanged, with a note; nothing was sent.
        EncodeError: a hook returned something other than a message or None.
    """
    for hook in chain.before_publish:
        try:
            changed = hook(message)
        except Exception as exc:
            exc.add_note(f"raised by {_name(hook)}: message {message.message_id} was not sent")
            raise
        if changed is None:
            continue
        if not isinstance(changed, WireMessage):
            raise EncodeError(
                f"{_name(hook)} returned {type(changed).__name__}; it returns the message "
                f"(message.with_headers(...)) or None: message {message.message_id} was not sent"
            )
        message = changed
    return message


def after_publish(
    chain: Chain,
    messages: Sequence[WireMessage],
    outcomes: Sequence[PublishError | None],
    seconds: float,
) -> None:
    """Run the ``after_publish`` hooks for each message; their errors are logged only."""
    for message, error in zip(messages, outcomes, strict=True):
        for hook in chain.after_publish:
            try:
                hook(message, error, seconds)
            except Exception:
                log.exception(
                    "%s failed after publishing message %s; its outcome stands",
                    _name(hook), message.message_id,
                )  # fmt: skip


class TaskHooks:
    """One delivery's task hooks, in one ``contextvars`` context: ``before_task`` where the
    task runs, right before it, and ``after_task`` once the delivery is settled.

    A span or scope a ``before_task`` hook makes current (a context variable) is current in
    the task and in ``after_task``. ``after_task`` runs only if ``before_task`` began (a plain
    task cancelled while it waited for a thread never did), and at most once.
    """

    __slots__ = ("began", "chain", "context", "request")

    def __init__(self, chain: Chain, request: MessageRequest) -> None:
        self.chain, self.request = chain, request
        self.context = contextvars.copy_context()
        self.began = False

    def call(self, function: Callable[..., T], *args: Any) -> T:
        """``before_task``, then ``function(*args)``, in this delivery's context."""
        return self.context.run(self._call, function, args)

    def _call(self, function: Callable[..., T], args: tuple[Any, ...]) -> T:
        self.before()
        return function(*args)

    async def call_async(self, function: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
        """``before_task``, then the coroutine of ``function(*args)``: the body of an
        asyncio task created with ``context=self.context``."""
        self.before()
        return await function(*args)

    def before(self) -> None:
        """The ``before_task`` hooks in order; the first to raise fails the task."""
        self.began = True
        for hook in self.chain.before_task:
            hook(self.request)

    def after(self, outcome: TaskOutcome) -> None:
        """The ``after_task`` hooks in reverse order, each error logged; once, if begun."""
        if not self.began:
            return
        self.began = False
        try:
            self.context.run(self._after, outcome)
        except RuntimeError:  # still entered: an abandoned task's thread runs in it
            self.context.copy().run(self._after, outcome)

    def _after(self, outcome: TaskOutcome) -> None:
        for hook in self.chain.after_task:
            try:
                hook(self.request, outcome)
            except Exception:
                log.exception(
                    "%s failed after message %s of %r (%s); its outcome stands",
                    _name(hook), self.request.message_id, self.request.queue, outcome.result,
                )  # fmt: skip


def _name(hook: Callable[..., Any]) -> str:
    owner = getattr(hook, "__self__", None)
    kind = type(owner).__qualname__ if owner is not None else ""
    return f"{kind}.{getattr(hook, '__name__', 'hook')}" if kind else repr(hook)
