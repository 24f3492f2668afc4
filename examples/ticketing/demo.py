"""The walk-through: compile the ticketing topology, show where messages go, and run them.

Run with ``make demo`` (or ``python examples/ticketing/demo.py [--local]``). It writes nothing
into the repository: the compiled files go to build/demo/. With RabbitMQ reachable (``AMQP_URL``,
default guest on 127.0.0.1:5672) it starts ``mserve`` on the compiled INI, waits for its /readyz,
publishes a few hundred messages as a web application would and follows the worker's /metrics
until all are processed. Without a broker (or with ``--local``) the same messages run on the
local transport, in-process, through the same encoding, routing and dispatch.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

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


#: What the broker run publishes: cart releases and lotteries of two winners each.
CARTS, LOTTERIES = 200, 20
#: Each lottery: its election, two mails, and an audit of the three (``lots.#``).
EXPECTED = CARTS + LOTTERIES * (1 + 2 + 3)
DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


def broker_reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), 2):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def processed(port: int) -> int | None:
    """Messages the worker has finished (any outcome), read from its /metrics."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            text = response.read().decode()
    except OSError:
        return None
    pattern = r"^mqwire_task_duration_seconds_count\{.*\} (\d+)$"
    return sum(int(n) for n in re.findall(pattern, text, re.MULTILINE))


def consuming(port: int) -> bool:
    """Whether the worker's /readyz says it consumes every queue. Only then are its exchanges,
    queues and bindings declared: /metrics answers before that, and a lottery published then
    can reach lots.audit alone, confirmed all the same (``mandatory`` asks for one queue)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:  # not listening yet, or 503 while it declares and opens its consumers
        return False


def run_on_broker() -> int:
    """Start mserve, publish as a web application would, and follow the worker's progress."""
    port = free_port()
    ini = OUT / "compiled.ini"
    args = [str(ini.relative_to(ROOT)), "--http", f"127.0.0.1:{port}", "--log-level", "WARNING"]
    print("$ mserve " + " ".join(args) + " &")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "mqwire.runtime.worker.mserve", *args], env=env, cwd=ROOT
    )
    try:
        ready_by = time.monotonic() + 60
        while not consuming(port):
            if worker.poll() is not None:
                print(f"mserve exited with {worker.returncode} before it was up")
                return 1
            if time.monotonic() > ready_by:
                print("mserve did not consume its queues within 60 s")
                return 1
            time.sleep(0.1)
        before = processed(port) or 0
        sys.path.insert(0, str(HERE))
        with load(ini) as registry:
            cart = registry.publisher("cart")
            with cart.batch():
                for cart_id in range(1, CARTS + 1):
                    cart.publish(body={"cart_id": cart_id}, routing_key="cart")
            for lottery in range(LOTTERIES):
                applicants = ["ann", "bob", "cy", "dee"]
                dispatch_task(
                    registry,
                    "elect_lots",
                    {"lottery_id": lottery, "applicants": applicants, "seats": 2, "seed": lottery},
                )
        print(f"published {CARTS} cart releases and {LOTTERIES} lotteries (confirmed by RabbitMQ)")
        deadline = time.monotonic() + 60
        done = 0
        while done < EXPECTED and time.monotonic() < deadline and worker.poll() is None:
            done = (processed(port) or before) - before
            print(f"  mserve processed {done} of {EXPECTED} messages", flush=True)
            time.sleep(0.5)
        readiness = urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2).read()
        print(f"/readyz: {readiness.decode().strip()}")
    finally:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
        code = worker.wait(60)
    print(f"mserve stopped on SIGTERM and exited with {code}")
    return 0 if done >= EXPECTED and code == 0 else 1


def main(argv: list[str] | None = None) -> int:
    local = "--local" in (sys.argv[1:] if argv is None else argv)
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
    url = os.environ.get("AMQP_URL", DEFAULT_URL)
    if local or not broker_reachable(url):
        print("running on the local transport (no broker needed)" if local else
              "RabbitMQ is not reachable: running on the local transport instead")  # fmt: skip
        return run_locally()
    return run_on_broker()


if __name__ == "__main__":
    raise SystemExit(main())
