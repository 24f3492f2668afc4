"""The walk-through: compile the ticketing topology, show where messages go, and run them.

Run with ``make demo`` (or ``python examples/ticketing/demo.py``). It writes nothing into
the repository: the compiled files go to build/demo/. The messages run on the local
transport (in-process, no broker needed), through the same encoding, routing and dispatch
as over RabbitMQ.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mqwire.runtime import dispatch_task, load
from mqwire.topology import RouteTable, read_compiled_ini

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
OUT = ROOT / "build" / "demo"

#: Routing keys a ticketing site publishes, and through which publisher_consumer.
SAMPLES = [
    ("cart", "cart"),
    ("lots", "lots.election"),
    ("lots", "lots.winner.mail"),
    ("lots", "lots.loser.mail"),
    ("lots", "lots.anything.else.at.all"),
]


def compile_to(out: Path, *options: str) -> int:
    where = [f"{HERE.relative_to(ROOT)}/topology.yaml", "-o", str(out.relative_to(ROOT))]
    shown = " ".join(["mq-compile", *where, *options])
    print(f"$ {shown}")
    command = [sys.executable, "-m", "mqwire.compiler.cli", str(HERE / "topology.yaml")]
    return subprocess.run([*command, "-o", str(out), *options], check=False).returncode


def run_locally() -> int:
    """Publish as a web application would, on the local transport, and show what ran."""
    if compile_to(OUT / "local", "--transport", "local"):
        return 1
    sys.path.insert(0, str(HERE))  # the application's package, as it would be installed
    from ticketing.store import EVENTS, HELD_SEATS

    HELD_SEATS[7] = ["A1", "A2"]
    with load(OUT / "local" / "compiled.ini") as registry:
        registry.publisher("cart").publish(
            body=json.dumps({"cart_id": 7}),
            routing_key="cart",
            properties=dict(content_type="application/json"),
        )
        election = {"lottery_id": 3, "applicants": ["ann", "bob", "cy"], "seats": 2, "seed": 1}
        dispatch_task(registry, "elect_lots", election)
    print("\nwhat the tasks did, in order (publishes from a task run after it):")
    for name, details in EVENTS:
        print(f"  {name:<18} {json.dumps(details)}")
    return 0


def main() -> int:
    if compile_to(OUT):
        return 1
    compiled = read_compiled_ini((OUT / "compiled.ini").read_text(encoding="utf-8"))
    topology = compiled.topology
    print(f"\n{len(topology.queues)} queues, {len(topology.tasks)} tasks:")
    for task in topology.tasks.values():
        print(f"  {task.queue:<15} -> {task.name} ({task.task})")
    print("\nwhere messages go (the same matcher routes the local transport):")
    for name, key in SAMPLES:
        table = RouteTable(topology.effective_routes(name))
        queues = table.queues_for(key) or ("nothing: publish() would raise",)
        print(f"  {name}: {key:<26} -> {', '.join(queues)}")
    print(f"\ncompiled files: {OUT.relative_to(ROOT)}/compiled.ini, compiled_registry.py\n")
    return run_locally()


if __name__ == "__main__":
    raise SystemExit(main())
