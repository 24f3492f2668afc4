"""``mqctl CONFIG publish PUBLISHER ROUTING_KEY [BODY]``: one message through the application's
own publisher (its encoding, ids and confirms), the body from the argument, a file or stdin."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from mqwire.topology.schedules import every_seconds

from ..errors import ConfigurationError
from ..wiring.registry import Registry
from .admin import AdminExit


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``publish`` subcommand."""
    pub = sub.add_parser("publish", help="publish one message through a publisher")
    pub.add_argument("publisher", help="the publisher_consumer to publish with")
    pub.add_argument("routing_key")
    pub.add_argument("body", nargs="?", help="the body; '-' reads stdin")
    pub.add_argument("--file", help="read the body from this file")
    pub.add_argument("--content-type", default="application/json")
    pub.add_argument(
        "--delay",
        type=delay_seconds,
        help="deliver after this long: seconds, or 500ms, 30s, 5m, 2h, 3d (rounded up to "
        "whole seconds; see docs/delays.md)",
    )


def delay_seconds(text: str) -> float:
    """``--delay``: ``90``, ``1.5``, ``30s``, ``5m``... as seconds."""
    try:
        return float(text)
    except ValueError:
        seconds = every_seconds(text)
    if seconds is None:
        raise argparse.ArgumentTypeError(
            f"not a delay: {text!r} (seconds, or 500ms, 30s, 5m, 2h, 3d)"
        )
    return seconds


def read_body(args: argparse.Namespace) -> Any:
    """The body to publish: parsed JSON (for a JSON content type) or bytes."""
    if args.file and args.body is not None:
        raise ConfigurationError("give the body as an argument or --file, not both")
    if args.file:
        try:
            with open(args.file, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise ConfigurationError(f"cannot read {args.file}: {exc.strerror}") from None
    elif args.body == "-" or args.body is None:
        if args.body is None and sys.stdin.isatty():
            raise ConfigurationError("give a BODY, --file FILE, or '-' to read stdin")
        data = sys.stdin.buffer.read()
    else:
        data = args.body.encode("utf-8")
    if "json" in args.content_type:
        try:
            parsed = json.loads(data)
        except ValueError as exc:
            raise ConfigurationError(f"the body is not JSON: {exc}") from None
        if isinstance(parsed, (dict, list)):
            return parsed
    return data


def cmd_publish(registry: Registry, args: argparse.Namespace) -> int:
    """Publish, print the message id."""
    body = read_body(args)
    publisher = registry.publisher(args.publisher)
    message_id = publisher.publish(
        body, args.routing_key, properties={"content_type": args.content_type}, delay=args.delay
    )
    print(message_id)
    return AdminExit.OK
