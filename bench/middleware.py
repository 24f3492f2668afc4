"""What middleware costs per message, in-process: none installed against one no-op middleware.

The hooks' cost is a few microseconds at most, below the noise of a run against the broker
(consume rates move by 20 % between runs), so it is measured without one: the local transport
runs the same code as the RabbitMQ publisher up to the socket (encoding, ``before_publish``,
counting the outcome, ``after_publish``) and the same ``TaskHooks`` as ``mserve`` around a
task. Two paths, each N messages timed as one block, repeated: ``publish()`` to a queue with no
task (encode, hooks, route, count), and ``publish()`` whose plain no-op task then runs (also
``before_task`` and ``after_task``, in a ``contextvars`` context of the message's own). Both
variants run in alternating blocks in one process, timed in its CPU time: on a shared 2-core
machine, wall time measured the neighbours.
The no-op middleware overrides all four hooks, so every hook is called and does nothing.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from .harness import RunConfig, repeated
from .report import summarize

LOCAL = "mqwire.runtime.publisher.locally_dispatching_publisher_consumer_factory"
PATHS = {
    "publish": ("publish(), local, to a queue with no task", "sink"),
    "task": ("publish() and its plain no-op task, local", "work"),
}


def _registry(middleware: list[Any]) -> Any:
    from mqwire.runtime import Configurator, Middleware

    class Noop(Middleware):
        def before_publish(self, message: Any) -> None:
            return None

        def after_publish(self, message: Any, error: Any, seconds: float) -> None:
            return None

        def before_task(self, request: Any) -> None:
            return None

        def after_task(self, request: Any, outcome: Any) -> None:
            return None

    config = Configurator(  # sink's consumer has no task: no worker serves it, it holds
        {"bench.mq": LOCAL, "bench.mq.queues": "work", "held.mq": LOCAL, "held.mq.queues": "sink"},
        middleware=[Noop() for _ in middleware],
    )
    config.add_publisher_consumer("bench", "bench.mq")
    config.add_publisher_consumer("held", "held.mq")
    config.add_task(lambda context, request: None, queue="work", name="noop")
    return config.make_registry()


#: Messages per block; the blocks of the two variants alternate, so drift hits both alike.
BLOCK = 200


def _measure(n: int, queue: str) -> Callable[[], dict[str, Any]]:
    """N messages each way, in alternating blocks, timed in this process's CPU time (other
    processes' load on the machine does not count); medians of the blocks, and of each pair's
    difference."""

    def once() -> dict[str, Any]:
        registries = [_registry([]), _registry([None])]
        publishers = [r.publisher("bench") for r in registries]
        body = {"id": 0, "text": "x" * 80}
        for publisher in publishers:  # warm-up: caches, first-call costs
            for _ in range(BLOCK):
                publisher.publish(body, routing_key=queue)
        blocks: list[list[float]] = [[], []]
        for index in range(max(1, n // BLOCK)):
            for variant in (0, 1) if index % 2 else (1, 0):
                publisher = publishers[variant]
                started = time.process_time()
                for _ in range(BLOCK):
                    publisher.publish(body, routing_key=queue)
                blocks[variant].append((time.process_time() - started) / BLOCK * 1e6)
            for registry in registries:
                registry.local_broker.undelivered.clear()
        added = [one - none for none, one in zip(*blocks, strict=True)]
        return {
            "none": statistics.median(blocks[0]),
            "one": statistics.median(blocks[1]),
            "added": statistics.median(added),
        }

    return once


def run(config: RunConfig, say: Callable[[str], None]) -> dict[str, Any]:
    say(f"middleware: {config.n} messages in-process each, none against one no-op middleware")
    contenders = [(path, _measure(config.n, queue)) for path, (_, queue) in PATHS.items()]
    runs = repeated(config, contenders, say)
    return {
        path: {
            "label": label,
            "unit": "µs/msg",
            "none": summarize(runs[path], "none"),
            "one": summarize(runs[path], "one"),
            "added": summarize(runs[path], "added"),
            "runs": runs[path],
        }
        for path, (label, _) in PATHS.items()
    }
