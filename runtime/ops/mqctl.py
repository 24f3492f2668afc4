"""``mqctl CONFIG COMMAND``: operate the queues of a compiled topology over AMQP.

A thin shell: the plan and the formatting live in ``admin``, the broker calls in
``amqp.admin``; publishing goes through the application's own publisher. No root, no
``rabbitmqctl``: everything is an AMQP operation with the topology's credentials, plus, for
``queues`` (unacked counts) and ``verify`` (bindings), the management HTTP API when it answers
(``management_api``; ``verify`` compares); ``apply`` declares, in ``apply_cli``; ``publish``
reads its body in ``publish_cli``. Logging is set up as ``mserve``'s is, by
``logs.options``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from mqwire.topology.cli_support import add_version, exit_status_help
from mqwire.topology.errors import MqError

from ..amqp.admin import Admin
from ..errors import (
    BrokerUnreachable,
    ManagementUnavailable,
    PublishConnectionError,
)
from ..logs.options import MQCTL, add_options, setup_logging
from ..wiring.load import load
from ..wiring.registry import Registry
from . import admin, apply_cli, publish_cli
from .admin import AdminExit, Target, say_node
from .management_api import ManagementApi, endpoint
from .verify import UNCHECKED_WITH_API, UNVERIFIABLE, Finding, compare_bindings

EXAMPLES = """\
examples (from examples/ticketing, with PYTHONPATH=. so the registry imports):
  {prog} compiled.ini queues                  ready, unacked and consumer counts
  {prog} compiled.ini queues --json --no-management
  {prog} compiled.ini publish lots lots.election '{{"id": 1}}'
  {prog} compiled.ini publish lots lots.election -    the body from stdin (or --file FILE)
  {prog} compiled.ini dead-letters lots.election --limit 20
  {prog} compiled.ini replay lots.election --all      or --id MESSAGE_ID (repeatable)
  {prog} compiled.ini purge lots.mail                 asks you to type the name (or --force)
  {prog} compiled.ini verify --json
  {prog} compiled.ini apply --dry-run             what apply would declare (and prune)
  {prog} compiled.ini apply --prune --yes         declare; remove bindings the topology dropped
"""


def build_parser(prog: str = "mqctl") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Inspect and operate the RabbitMQ queues of a compiled topology.",
        epilog=EXAMPLES.format(prog=prog) + "\n" + exit_status_help("mqctl"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_version(parser)
    add_options(parser, MQCTL)
    parser.add_argument("config", help="the compiled INI written by mq-compile")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    api = argparse.ArgumentParser(add_help=False)
    choice = api.add_mutually_exclusive_group()
    choice.add_argument(
        "--management-url",
        metavar="URL",
        help="the management HTTP API (default http://AMQP-HOST:15672, the AMQP URL's user "
        "and password unless URL has its own)",
    )
    choice.add_argument(
        "--no-management", action="store_true", help="AMQP only: no unacked counts, no bindings"
    )
    queues = sub.add_parser(
        "queues", parents=[api], help="queues with ready / unacked / consumer counts"
    )
    queues.add_argument("--json", action="store_true")
    publish_cli.add_parser(sub)
    for name, text in (("purge", "remove every ready message"), ("delete", "delete the queue")):
        p = sub.add_parser(name, help=text + " (asks first)")
        p.add_argument("queue")
        p.add_argument("--force", action="store_true", help="do not ask")
        p.add_argument("--any", action="store_true", help="allow a queue not in the topology")
    dead = sub.add_parser("dead-letters", help="show a queue's dead letters, leaving them")
    dead.add_argument("queue", help="a queue (its dead-letter queue is read) or its DLQ")
    dead.add_argument("--limit", type=int, default=None)
    dead.add_argument("--json", action="store_true")
    replay = sub.add_parser("replay", help="move dead letters back to their queue")
    replay.add_argument("queue", help="a queue (its dead-letter queue is read) or its DLQ")
    replay.add_argument("--id", action="append", default=[], dest="ids", metavar="MESSAGE_ID")
    replay.add_argument("--all", action="store_true")
    verify = sub.add_parser("verify", parents=[api], help="compare the broker with the topology")
    verify.add_argument("--json", action="store_true")
    apply_cli.add_parser(sub, api)
    return parser


T = TypeVar("T")


class Management:
    """The management API per target, when it answers; says once why it is not used."""

    def __init__(self, args: argparse.Namespace, without: str) -> None:
        self._off = bool(args.no_management)
        self._url: str | None = args.management_url
        self._without = without  # what the output lacks without the API
        self._said = False
        self._named: set[str] = set()

    def read(self, target: Target, call: Callable[[ManagementApi], T]) -> T | None:
        if self._off:
            return None
        try:
            where = endpoint(target.url, self._url, target.tls)
            if where.base_url not in self._named:  # which one, once: it is not always obvious
                self._named.add(where.base_url)
                print(f"mqctl: management API {where.masked} ({where.origin})", file=sys.stderr)
            return call(ManagementApi(where))
        except ManagementUnavailable as exc:
            if not self._said:
                print(f"mqctl: not using the {exc}; {self._without}", file=sys.stderr)
                self._said = True
            return None


def cmd_queues(registry: Registry, found: Sequence[Target], args: argparse.Namespace) -> int:
    rows = []
    management = Management(args, "unacked shown as n/a")
    complete = True
    for target in found:
        # first: an unreachable broker is the one error
        with Admin(target.url, target.tls, say_node) as broker:
            stats = management.read(target, lambda api: api.queues())
            complete = complete and stats is not None
            for queue in target.plan.queues:
                probe = broker.probe_queue(queue.name)
                kind = admin.queue_kind(registry, queue.name)
                if probe.exists:
                    live = (stats or {}).get(queue.name)
                    unacked = live.unacked if live else None
                    rows.append(
                        admin.QueueRow(queue.name, kind, probe.ready, unacked, probe.consumers)
                    )
                else:
                    rows.append(admin.QueueRow(queue.name, kind, None, None, None))
    rows.sort(key=lambda row: row.kind == "delay")  # the ladder's levels after the topology's
    if args.json:
        print(json.dumps([r.as_json() for r in rows], indent=2))
    else:
        print(admin.queue_table(rows))
        if not complete:
            print("(unacked: not available over AMQP)")
    return AdminExit.OK


def cmd_remove(registry: Registry, found: Sequence[Target], args: argparse.Namespace) -> int:
    target = admin.find_queue(found, args.queue, allow_any=args.any)
    verb = args.command
    if not args.force:
        print(f"{verb} queue {args.queue!r}? type its name to confirm: ", end="", flush=True)
        if sys.stdin.readline().strip() != args.queue:
            print(f"mqctl: not confirmed; queue {args.queue!r} left as it was", file=sys.stderr)
            return AdminExit.ERROR
    with Admin(target.url, target.tls, say_node) as broker:
        count = broker.purge(args.queue) if verb == "purge" else broker.delete(args.queue)
    done = "purged" if verb == "purge" else "deleted"
    print(f"{done} {args.queue!r}: {count} message(s) removed")
    return AdminExit.OK


def cmd_dead_letters(registry: Registry, found: Sequence[Target], args: argparse.Namespace) -> int:
    _, dlq = admin.dead_letter_queue_of(registry, args.queue)
    target = admin.find_queue(found, dlq, allow_any=False)
    with Admin(target.url, target.tls, say_node) as broker:
        letters = [admin.read_dead_letter(p, b) for p, b in broker.peek(dlq, args.limit)]
    if args.json:
        print(json.dumps([d.as_json() for d in letters], indent=2))
    else:
        print(f"{dlq}: {len(letters)} message(s) shown (left in the queue)")
        if letters:
            print(admin.dead_letter_table(letters))
    return AdminExit.OK


def cmd_replay(registry: Registry, found: Sequence[Target], args: argparse.Namespace) -> int:
    admin.check_selection(args.ids, args.all)
    queue, dlq = admin.dead_letter_queue_of(registry, args.queue)
    target = admin.find_queue(found, dlq, allow_any=False)

    def choose(properties: Any) -> bool:
        return admin.selected(properties, queue, args.ids, args.all)

    with Admin(target.url, target.tls, say_node) as broker:
        moved = broker.replay(dlq, queue, choose, admin.replay_properties)
    print(f"replayed {len(moved)} message(s) from {dlq!r} to {queue!r}")
    missing = sorted(set(args.ids) - set(moved))
    if missing:
        print(f"mqctl: not found in {dlq!r}: {', '.join(missing)}", file=sys.stderr)
        return AdminExit.ERROR
    return AdminExit.OK


def cmd_verify(registry: Registry, found: Sequence[Target], args: argparse.Namespace) -> int:
    findings: list[Finding] = []
    management = Management(args, "bindings not checked")
    unchecked = 0  # bindings not compared, for want of the management API
    for target in found:
        with Admin(target.url, target.tls, say_node) as broker:
            live = management.read(target, lambda api: api.bindings())
            if live is None:
                unchecked += len(target.plan.bindings)
            else:
                findings.extend(compare_bindings(target.plan, live))
            for exchange in target.plan.exchanges:
                if not broker.exchange_exists(exchange.name):
                    findings.append(Finding("exchange", exchange.name, "missing"))
                    continue
                detail = broker.exchange_inequivalence(exchange) or ""
                state = "differs" if detail else "ok"
                findings.append(Finding("exchange", exchange.name, state, detail))
            for queue in target.plan.queues:
                if not broker.probe_queue(queue.name).exists:
                    findings.append(Finding("queue", queue.name, "missing"))
                    continue
                text = broker.inequivalence(queue) or ""
                findings.append(Finding("queue", queue.name, "differs" if text else "ok", text))
    checked = unchecked == 0 and not args.no_management
    if args.json:
        why = UNCHECKED_WITH_API if checked else UNVERIFIABLE
        report = {
            "drift": any(f.drift for f in findings),
            "findings": [f.__dict__ for f in findings],
            "not_checked": {"bindings": unchecked, "why": why},
        }
        print(json.dumps(report, indent=2))
    else:
        print(admin.verify_report(findings, unchecked, api=checked))
    return AdminExit.DRIFT if any(f.drift for f in findings) else AdminExit.OK


COMMANDS: dict[str, Callable[[Registry, Sequence[Target], argparse.Namespace], int]] = {
    "queues": cmd_queues,
    "publish": lambda registry, found, args: publish_cli.cmd_publish(registry, args),
    "purge": cmd_remove,
    "delete": cmd_remove,
    "dead-letters": cmd_dead_letters,
    "replay": cmd_replay,
    "verify": cmd_verify,
    "apply": lambda registry, found, args: apply_cli.cmd_apply(found, args),
}


def main(argv: Sequence[str] | None = None, prog: str = "mqctl") -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    try:
        setup_logging(parser, args, MQCTL)  # --log-config; else nothing set up, unless JSON
        registry = load(args.config)
    except MqError as exc:
        print(f"mqctl: error: {exc}", file=sys.stderr)
        return AdminExit.ERROR
    try:
        found = admin.targets(registry)
        return COMMANDS[args.command](registry, found, args)
    except (BrokerUnreachable, PublishConnectionError) as exc:
        print(f"mqctl: error: {exc}", file=sys.stderr)
        return AdminExit.UNREACHABLE
    except MqError as exc:
        print(f"mqctl: error: {exc}", file=sys.stderr)
        return AdminExit.ERROR
    finally:
        registry.close()


if __name__ == "__main__":
    sys.exit(main())
