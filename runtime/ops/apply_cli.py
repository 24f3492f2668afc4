"""``mqctl CONFIG apply``: declare the topology on its brokers, optionally pruning bindings.

Everything is looked at before anything is changed, on every broker: a queue or exchange
held with other arguments (exit 4), a ``--prune`` that cannot see the broker's bindings
(exit 2) or that nobody confirmed (exit 7) leaves every broker as it was. Then the plan's
exchanges, queues and bindings are declared (idempotent) and, with ``--prune``, the bindings
on the topology's exchanges that it does not declare are removed. Queues and exchanges are
never deleted: that stays an explicit ``mqctl delete``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TextIO, TypeVar

from mqwire.topology.credentials import mask_resolved_url

from ..amqp.admin import Admin
from ..errors import BrokerError, ConfigurationError, ManagementUnavailable
from .admin import AdminExit, Target, say_node
from .apply_plan import Seen, Step, done_line, plan_steps, render_plan
from .management_api import LiveBinding, ManagementApi, endpoint

T = TypeVar("T")


def add_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], api: argparse.ArgumentParser
) -> None:
    """The ``apply`` subcommand, with the management API options ``api`` holds."""
    apply = sub.add_parser(
        "apply", parents=[api], help="declare the topology; --prune removes stale bindings"
    )
    apply.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    apply.add_argument(
        "--prune",
        action="store_true",
        help="also remove bindings on the topology's exchanges that it does not declare "
        "(needs the management API)",
    )
    apply.add_argument("--yes", action="store_true", help="do not ask before pruning")


@dataclass(frozen=True)
class Planned:
    """One broker, what it has, and the steps to take there."""

    target: Target
    masked: str
    steps: list[Step]
    bindings_read: bool  #: the management API listed the broker's bindings


def _live_bindings(target: Target, args: argparse.Namespace) -> list[LiveBinding] | None:
    """The broker's bindings; None when the API is off or silent, unless ``--prune`` needs it.

    Raises:
        ConfigurationError: ``--prune`` and the bindings cannot be read.
    """
    if args.no_management:
        if args.prune:
            raise ConfigurationError(
                "apply --prune needs the management API to see the broker's bindings; "
                "drop --no-management. Nothing was changed"
            )
        return None
    try:
        where = endpoint(target.url, args.management_url, target.tls)
        print(f"mqctl: management API {where.masked} ({where.origin})", file=sys.stderr)
        return ManagementApi(where).bindings()
    except ManagementUnavailable as exc:
        if args.prune:
            raise ConfigurationError(
                f"apply --prune needs the management API to see the broker's bindings, and the "
                f"{exc}. Nothing was changed"
            ) from None
        print(f"mqctl: not using the {exc}; bindings not compared", file=sys.stderr)
        return None


def _look(broker: Admin, target: Target, live: list[LiveBinding] | None, prune: bool) -> list[Step]:
    """Passive declares (and, for what exists, an equivalence check): the steps."""
    exchanges = {
        e.name: broker.exchange_inequivalence(e) or ""
        for e in target.plan.exchanges
        if broker.exchange_exists(e.name)
    }
    queues = {
        q.name: broker.inequivalence(q) or ""
        for q in target.plan.queues
        if not q.exclusive and broker.probe_queue(q.name).exists
    }
    return plan_steps(target.plan, Seen(exchanges, queues, live), prune=prune)


def _confirmed(count: int, args: argparse.Namespace, stdin: TextIO) -> bool | None:
    """True: go on; False: the operator said no; None: nobody could be asked."""
    if args.yes or count == 0:
        return True
    if not stdin.isatty():
        return None
    print(f"remove {count} binding(s) listed as destructive? [y/N] ", end="", flush=True)
    return stdin.readline().strip().lower() in ("y", "yes")


def _execute(broker: Admin, planned: Planned) -> None:
    plan = planned.target.plan
    for exchange in plan.exchanges:
        _do(f"declaring exchange {exchange.name!r}", broker.declare_exchange, exchange)
    for queue in plan.queues:
        if not queue.exclusive:
            _do(f"declaring queue {queue.name!r}", broker.declare_queue, queue)
    for binding in plan.bindings:
        what = f"binding {binding.exchange!r} -> {binding.queue!r} [{binding.routing_key}]"
        _do(what, broker.bind, binding)
    for step in planned.steps:
        if step.cls == "destructive" and step.unbind is not None:
            b = step.unbind
            try:
                broker.unbind(b.exchange, b.destination, b.routing_key, b.destination_type,
                              b.arguments)  # fmt: skip
            except BrokerError as exc:
                raise BrokerError(f"removing binding {step.name}: {exc}", exc.reply_code) from None


def _do(what: str, call: Callable[[T], None], item: T) -> None:
    try:
        call(item)
    except BrokerError as exc:
        raise BrokerError(f"{what}: {exc}", exc.reply_code) from None


def cmd_apply(found: Sequence[Target], args: argparse.Namespace, stdin: TextIO = sys.stdin) -> int:
    """Look at every broker, print the plan, then (unless ``--dry-run``) apply it."""
    planned: list[Planned] = []
    for target in found:  # an unreachable broker or management API: nothing changed yet
        # first: an unreachable broker is the one error
        with Admin(target.url, target.tls, say_node) as broker:
            live = _live_bindings(target, args)
            steps = _look(broker, target, live, args.prune)
        planned.append(Planned(target, mask_resolved_url(target.url), steps, live is not None))
    for item in planned:
        print(render_plan(item.masked, item.steps, checked_extras=item.bindings_read))
    if any(s.cls == "incompatible" for p in planned for s in p.steps):
        print("mqctl: error: the broker holds objects with other arguments (listed as "
              "broker-incompatible); nothing was changed", file=sys.stderr)  # fmt: skip
        return AdminExit.MISMATCH
    if args.dry_run:
        print("dry run: nothing was changed")
        return AdminExit.OK
    removals = sum(s.cls == "destructive" for p in planned for s in p.steps)
    answer = _confirmed(removals, args, stdin)
    if answer is None:
        print("mqctl: error: apply --prune removes bindings and stdin is not a terminal to "
              "confirm on: give --yes. Nothing was changed", file=sys.stderr)  # fmt: skip
        return AdminExit.UNCONFIRMED
    if not answer:
        print("mqctl: not confirmed; nothing was changed", file=sys.stderr)
        return AdminExit.ERROR
    for item in planned:
        with Admin(item.target.url, item.target.tls, say_node) as broker:
            _execute(broker, item)
        print(f"applied to {item.masked}: {done_line(item.steps)}")
    return AdminExit.OK
