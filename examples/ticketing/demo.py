"""The walk-through: compile the ticketing topology and show where messages would go.

Run with ``make demo`` (or ``python examples/ticketing/demo.py``). It writes nothing into
the repository: the compiled files go to build/demo/.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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


def main() -> int:
    print(f"$ mq-compile {HERE.relative_to(ROOT)}/topology.yaml -o {OUT.relative_to(ROOT)}")
    result = subprocess.run(
        [sys.executable, "-m", "mqwire.compiler.cli", str(HERE / "topology.yaml"), "-o", str(OUT)],
        check=False,
    )
    if result.returncode:
        return result.returncode
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
    print(f"\ncompiled files: {OUT.relative_to(ROOT)}/compiled.ini, compiled_registry.py")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
