"""``mqctl``'s command line without a broker: its help examples, --version and its prog."""

from __future__ import annotations

import pytest
from cli_examples import TICKETING, check_version_and_prog, help_examples, ticketing

from mqwire.runtime.ops.mqctl import build_parser, main
from mqwire.topology import topic_matches


def test_help_examples_parse_and_name_the_ticketing_example() -> None:
    parser = build_parser()
    topology = ticketing()
    examples = help_examples(parser)
    assert {argv[1] for argv in examples} >= {"queues", "publish", "dead-letters", "verify"}
    for argv in examples:
        args = parser.parse_args(argv)
        assert (TICKETING / args.config).is_file(), argv
        if args.command == "publish":
            publisher = topology.publisher_consumers[args.publisher]
            own = [q.name for q in topology.queues.values() if q.consumer == publisher.name]
            routed = [
                r.queue for r in publisher.routes if topic_matches(r.pattern, args.routing_key)
            ]
            assert args.routing_key in own or routed, argv
        if "queue" in args:
            assert args.queue in topology.queues, argv


def test_version_and_the_prog_it_runs_under(capsys: pytest.CaptureFixture[str]) -> None:
    check_version_and_prog(main, "mqctl", capsys)
