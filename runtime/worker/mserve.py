"""``mserve CONFIG [NAME ...]``: the worker process, a thin shell around ``Worker``.

It loads the compiled wiring (or a Pyramid application's, ``sources.py``), picks what to
serve, installs signal handlers and the optional status endpoint, runs one ``Worker`` per
publisher_consumer on one tornado loop, and turns the outcome into a named exit code
(``ExitCode``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence

from mqwire.topology.cli_support import DescriptionFormatter, add_version, exit_status_help
from mqwire.topology.consumer_timeout import DEFAULT_CONSUMER_TIMEOUT, timeout_problem
from mqwire.topology.declarations import declarations
from mqwire.topology.errors import MqError

from .._fastpath import switch
from ..errors import ConfigurationError, ExitCode
from ..logs.options import MSERVE, add_options, log_options_given, setup_logging
from ..wiring.factories import ConsumerSpec
from ..wiring.registry import Registry
from .group_options import add_group_options, group_sink, watch_supervisor
from .metrics import Metrics
from .policy import WorkerOptions
from .sources import load_served, setup_served_logging
from .stuck import DEFAULT_MAX_STUCK, StuckTasks
from .time_limits import DEFAULT_TIMEOUT_GRACE

log = logging.getLogger("mqwire.mserve")

EXAMPLES = """\
examples (from examples/ticketing, with PYTHONPATH=. so the tasks import):
  {prog} compiled.ini                         serve every amqp publisher_consumer with tasks
  {prog} compiled.ini lots                    serve only publisher_consumer "lots"
  {prog} compiled.ini --queue lots.election   serve one queue (repeatable)
  {prog} compiled.ini --concurrency 4 --http 9100 --grace 60
  {prog} compiled.ini --timeout-grace 10 --max-stuck 2   tasks past their timeout
  {prog} compiled.ini --schedules              also fire the topology's schedules (one per fleet)
  {prog} compiled.ini --processes auto --http 9100   one worker per CPU, one endpoint
"""


def build_parser(prog: str = "mserve") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Consume the queues of a compiled topology and run their tasks; or bootstrap "
        "a Pyramid app (its PasteDeploy file, including mqwire.pyramid) and serve its tasks.",
        epilog=EXAMPLES.format(prog=prog) + "\n" + exit_status_help("mserve"),
        formatter_class=DescriptionFormatter,
    )
    add_version(parser)
    parser.add_argument("config", help="a compiled INI, or a Pyramid app's development.ini[#main]")
    parser.add_argument("names", nargs="*", metavar="NAME", help="publisher_consumers to serve")
    parser.add_argument("--queue", action="append", default=[], help="serve only this queue")
    parser.add_argument("--concurrency", type=_positive_int, default=1, help="plain tasks at once")
    parser.add_argument("--grace", type=float, default=30.0, help="seconds to finish on SIGTERM")
    parser.add_argument(
        "--max-unreachable", type=float, default=300.0, help="exit 3 after this long unreachable"
    )
    parser.add_argument(
        "--timeout-grace", type=float, default=DEFAULT_TIMEOUT_GRACE, metavar="SECONDS",
        help="seconds a task past its timeout gets to stop before it is abandoned as stuck",
    )  # fmt: skip
    parser.add_argument(
        "--max-stuck", type=_positive_int, default=DEFAULT_MAX_STUCK, metavar="N",
        help="stop (exit 6) when N abandoned tasks still run; /healthz is 503 then",
    )  # fmt: skip
    parser.add_argument(
        "--no-interrupt", dest="interrupt", action="store_false",
        help="never raise TaskTimeout inside an overrunning plain task's thread (CPython "
        "PyThreadState_SetAsyncExc); such a task is only abandoned after --timeout-grace",
    )  # fmt: skip
    parser.add_argument(
        "--http",
        metavar="[HOST:]PORT",
        type=_http_address,
        help="serve /healthz /readyz /metrics (on 127.0.0.1 unless HOST is given)",
    )
    parser.add_argument(
        "--schedules", action="store_true",
        help="also fire the topology's schedules: (one scheduler at a time holds a lock on the "
        "broker; alone when NAME/--queue select nothing to consume)",
    )  # fmt: skip
    parser.add_argument(
        "--schedule-lock", metavar="NAME", default="mqwire.scheduler",
        help="the scheduler's lock queue (default: %(default)s, one scheduler per vhost)",
    )  # fmt: skip
    add_group_options(parser)
    add_options(parser, MSERVE, levels=("DEBUG", "INFO", "WARNING"))
    parser.add_argument(
        "--fastpath", choices=switch.MODES, help=f"use pika's internals? overrides {switch.ENV}"
    )
    return parser


def _http_address(text: str) -> tuple[str, int]:
    from .status_http import parse_http_address  # tornado only when asked for

    try:
        return parse_http_address(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def select_consumers(
    registry: Registry, names: Sequence[str], queues: Sequence[str], *, allow_none: bool = False
) -> list[ConsumerSpec]:
    """What to serve: the named publisher_consumers (default: every amqp one with tasks).

    Raises:
        ConfigurationError: an unknown or local name, a queue none of them consumes, or
            nothing to serve (unless ``allow_none``: the scheduler runs alone).
    """
    specs = {n: registry.consumer(n) for n in names}  # unknown names list the known ones
    for name, spec in specs.items():
        if not isinstance(spec, ConsumerSpec):
            raise ConfigurationError(f"{name!r} uses the local transport: mserve has nothing to do")
    if not names:
        for name in sorted(registry.components):
            spec = registry.consumer(name)
            if isinstance(spec, ConsumerSpec) and any(
                registry.task_for_queue(q.name) for q in spec.queues
            ):
                specs[name] = spec
    if queues:
        served = {q.name for spec in specs.values() for q in spec.queues}
        unknown = sorted(set(queues) - served)
        if unknown:
            raise ConfigurationError(
                f"no served publisher_consumer consumes {', '.join(map(repr, unknown))}; "
                f"queues: {', '.join(map(repr, sorted(served))) or 'none'}"
            )
        specs = {
            n: ConsumerSpec(s.settings, tuple(q for q in s.queues if q.name in queues))
            for n, s in specs.items()
        }
    chosen = [s for s in specs.values() if s.queues]
    if not chosen and not allow_none:
        raise ConfigurationError("nothing to serve: no amqp publisher_consumer has tasks")
    return chosen


def timeout_warnings(registry: Registry, specs: Sequence[ConsumerSpec]) -> list[str]:
    """The served tasks the broker's consumer timeout may cut short: no ``timeout:``, or one
    not below it (the connection's ``consumer_timeout``, else RabbitMQ's default)."""
    warnings = []
    for spec in specs:
        consumer_timeout = spec.settings.consumer_timeout or DEFAULT_CONSUMER_TIMEOUT
        for queue in spec.queues:
            task = registry.task_for_queue(queue.name)
            problem = task and timeout_problem(task.name, task.timeout, consumer_timeout)
            if problem:
                warnings.append(f"{spec.name}: {problem}")
    return warnings


async def serve(registry: Registry, specs: Sequence[ConsumerSpec], args: argparse.Namespace) -> int:
    """Run the workers until a signal or a fatal error; the exit code."""
    # pika and tornado only once there is work to do
    from ..amqp.session import session_factory
    from ..amqp.transport import AmqpTransport
    from ..ops.startup_check import check_when_consuming
    from .worker import Worker

    metrics = Metrics(sink=group_sink(args))
    options = WorkerOptions(
        args.concurrency, args.grace, args.max_unreachable, timeout_grace=args.timeout_grace,
        max_stuck=args.max_stuck, interrupt=args.interrupt,
    )  # fmt: skip
    stuck = StuckTasks(args.max_stuck)
    workers = []
    checks = []  # (name, url, plan, tls): bindings to compare once consuming (management API)
    for spec in specs:
        for queue in spec.queues:
            if registry.task_for_queue(queue.name) is None:
                log.warning("queue %r has no task: its messages will be dead-lettered", queue.name)
        plan = declarations([spec.settings], registry.queues, delays=registry.delays)
        url, heartbeat, tls = spec.settings.url or "", spec.settings.heartbeat, spec.settings.tls
        connect = session_factory(url, name=spec.name, heartbeat=heartbeat, tls=tls)
        outcomes_name = f"mserve:{spec.name}:outcomes"
        outcomes = AmqpTransport(
            url, name=outcomes_name, heartbeat=heartbeat, tls=tls,
            state=registry.metrics.connection(outcomes_name),
        )  # fmt: skip
        worker = Worker(
            spec.name, spec.queues, plan, registry, metrics,
            connect=connect, outcomes=outcomes, options=options, stuck=stuck,
        )  # fmt: skip
        workers.append(worker)
        checks.append((spec.name, url, plan, tls))

    loop = asyncio.get_running_loop()
    stopped = asyncio.Event()  # the scheduler alone waits for it

    def on_signal(signum: int, why: str = "") -> None:
        log.info("%s: stopping (again to force)", why or f"{signal.Signals(signum).name} received")
        stopped.set()
        for worker in workers:
            worker.request_stop()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    if args.group_child:  # the supervisor's pipe closes when it dies, even by SIGKILL
        loop.add_reader(0, lambda: watch_supervisor(on_signal))
    if args.http or args.status_socket:
        from .status_http import start_status_server

        def readiness() -> tuple[bool, str]:
            states = [w.readiness() for w in workers]
            return all(ok for ok, _ in states), "; ".join(reason for _, reason in states)

        render = lambda: metrics.render() + registry.metrics.render()  # noqa: E731
        address = args.status_socket or args.http
        _, port = start_status_server(address, render, readiness, stuck.health)
        if not args.status_socket:
            log.info("status on port %d: /healthz /readyz /metrics", port)
    scheduler = start_scheduler(registry, args) if args.schedules else None
    running = {asyncio.ensure_future(w.run()): w for w in workers}
    consuming = lambda: all(w.readiness()[0] for w in workers)  # noqa: E731
    check = asyncio.ensure_future(check_when_consuming(checks, consuming, log))
    await asyncio.wait(
        running or {asyncio.ensure_future(stopped.wait())}, return_when=asyncio.FIRST_COMPLETED
    )
    check.cancel()
    if scheduler is not None:
        scheduler.set()  # it stops at its next look (at most a second), releasing its lock
    for worker in workers:  # one worker ending (fatal error) stops the others, gracefully
        if not worker.stopping:
            worker.request_stop()
    codes = [await task for task in running]
    return next((code for code in codes if code != ExitCode.OK), ExitCode.OK)


def start_scheduler(registry: Registry, args: argparse.Namespace) -> threading.Event:
    """The scheduler on its own thread; set the returned event to stop it."""
    from ..amqp.schedule_lock import BrokerLock
    from ..scheduler import running

    url, tls = running.lock_broker(registry)
    lock = BrokerLock(url, args.schedule_lock, tls=tls)
    _, _, stop = running.start(registry, lock)
    return stop


def main(argv: Sequence[str] | None = None, prog: str = "mserve") -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if args.fastpath:  # for every connection of this process, as if set in its environment
        os.environ[switch.ENV] = args.fastpath
    try:
        if log_options_given(args) or not setup_served_logging(args.config):  # an app's .ini
            setup_logging(parser, args, MSERVE)  # --log-config, or INFO text, pika at WARNING
        switch.for_process()  # a bad MQWIRE_FASTPATH fails here; logs what is on, once
        registry, close = load_served(args.config)  # a compiled INI or a PasteDeploy file
        specs = select_consumers(registry, args.names, args.queue, allow_none=args.schedules)
        if args.schedules:
            from ..scheduler.running import lock_broker

            lock_broker(registry)  # a topology without schedules, or a lock nowhere: exit 2
    except MqError as exc:
        print(f"mserve: error: {exc}", file=sys.stderr)
        return ExitCode.CONFIG
    if args.processes > 1 and not args.group_child:
        close()  # the config is good: each child loads its own
        from .supervisor import run_group

        return run_group(args, sys.argv[1:] if argv is None else argv)
    for warning in timeout_warnings(registry, specs):
        log.warning("%s", warning)
    try:
        code = asyncio.run(serve(registry, specs, args))
    finally:
        close()
    log.info("exiting with %d (%s)", code, ExitCode(code).name)
    if code in (ExitCode.FORCED_STOP, ExitCode.STUCK):  # a task thread may still run
        logging.shutdown()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
