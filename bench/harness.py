"""What every section shares: the run's settings, worker processes, and compiled topologies.

Workers run as real processes (``Process``), each in its own session so that stopping one
also stops what it forked, with output in a log file whose tail is shown when one dies.
``RunConfig.mserve_ini`` compiles the one-queue topology ``mserve`` serves in the benchmark.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .broker import BenchError, Broker

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
QUEUE = "bench"
T = TypeVar("T")

TOPOLOGY = """\
version: 1
connections:
  main: {url: "${AMQP_URL}"}
publisher_consumers:
  bench: {prefix: bench.mq, transport: amqp, connection: main}
queues:
  bench: {consumer: bench, prefetch: PREFETCH}
tasks:
  bench_task: {task: "noop_app:TASK", queue: bench}
"""


@dataclass
class RunConfig:
    broker: Broker
    work: Path  # a temporary folder: topologies, logs, latency files
    n: int = 20_000
    repeat: int = 3
    prefetch: int = 100
    latency_n: int = 2_000
    rate: float = 200.0
    concurrency: Sequence[int] = (1, 4)
    quick: bool = False
    #: ``MQWIRE_FASTPATH`` modes measured: the first under the usual keys, each other one
    #: for mserve (first concurrency) and the mqwire publishers, keys ending ``@<mode>``.
    fastpaths: Sequence[str] = ("auto", "off")
    _inis: dict[str, Path] = field(default_factory=dict)

    def mserve_ini(self, task: str) -> Path:
        """``bench``: one queue (this run's prefetch) whose task is ``noop_app:<task>``."""
        if task not in self._inis:
            from mqwire.compiler.cli import main as mq_compile

            noop_app_importable()  # mq-compile imports the task paths it compiles

            folder = self.work / f"topology-{task}"
            folder.mkdir(parents=True, exist_ok=True)
            text = TOPOLOGY.replace("PREFETCH", str(self.prefetch)).replace("TASK", task)
            (folder / "topology.yaml").write_text(text)
            with (
                contextlib.redirect_stdout(io.StringIO()),
                contextlib.redirect_stderr(io.StringIO()) as err,
            ):
                if mq_compile([str(folder / "topology.yaml")]) != 0:
                    raise BenchError(f"mq-compile failed: {err.getvalue()}")
            self._inis[task] = folder / "compiled.ini"
        return self._inis[task]

    def fastpath_variants(self) -> list[tuple[str, str, str]]:
        """(mode, key suffix, label suffix) per fast path mode measured."""
        first, *others = self.fastpaths
        return [(first, "", ""), *((m, f"@{m}", f" [fastpath {m}]") for m in others)]

    def log_path(self, label: str) -> Path:
        (self.work / "logs").mkdir(exist_ok=True)
        return self.work / "logs" / f"{label}-{time.monotonic_ns()}.log"


#: What workers import from this checkout; ``compile_bytecode`` compiles it before any run.
SOURCES = ("topology", "compiler", "runtime", "schemas", "bench", "examples/ticketing")


def compile_bytecode() -> None:
    """Byte-compile the checkout's modules, as installing a wheel does, before measuring.

    Workers only read bytecode. Without it (a fresh checkout run with PYTHONDONTWRITEBYTECODE
    set, as on this machine and many CI images) every worker start would compile mqwire's
    modules from source, about 60 ms of start-up no installed copy pays, while pika and the
    standard library come compiled either way.
    """
    import compileall

    for source in SOURCES:
        if not compileall.compile_dir(ROOT / source, quiet=1):
            raise BenchError(f"could not byte-compile {source}/")


def worker_env(**extra: str) -> dict[str, str]:
    """The environment of a worker: ``bench/`` and the repository first on its path."""
    path = [str(BENCH), str(ROOT), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in path if p), **extra}


def mserve_argv(ini: Path, concurrency: int, fastpath: str = "auto") -> list[str]:
    return [
        sys.executable, "-m", "mqwire.runtime.worker.mserve", str(ini),
        "--concurrency", str(concurrency), "--log-level", "WARNING", "--fastpath", fastpath,
    ]  # fmt: skip


class Process:
    """A worker process, started now; ``stop()`` ends it and everything it forked."""

    def __init__(
        self,
        argv: Sequence[str],
        env: dict[str, str],
        log: Path,
        stop_signal: signal.Signals = signal.SIGTERM,
        consumers: int = 1,
    ) -> None:
        self.argv, self.log, self.stop_signal = list(argv), log, stop_signal
        self.consumers = consumers  #: on each queue once it is up: its worker processes
        self._out = log.open("wb")
        self.spawned = time.monotonic()
        self.popen = subprocess.Popen(
            self.argv, env=env, cwd=ROOT, stdout=self._out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> None:
        """Raise ``BenchError`` with the end of its output if the process has exited."""
        code = self.popen.poll()
        if code is not None:
            raise BenchError(f"{' '.join(self.argv[:4])} exited with {code}:\n{self.tail()}")

    def tail(self, lines: int = 15) -> str:
        if not self._out.closed:
            self._out.flush()
        text = self.log.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def rss_mib(self) -> float:
        """Resident memory (VmRSS) of the process and its descendants, in MiB."""
        return sum(_vm_rss_kib(pid) for pid in _tree(self.pid)) / 1024

    def stop(self, timeout: float = 5.0) -> int | None:
        """``stop_signal``, then SIGKILL to its session after ``timeout``; the exit code.

        Called once the vhost is settled, so nothing is lost by not waiting long.
        """
        try:
            if self.popen.poll() is None:
                self.popen.send_signal(self.stop_signal)
                try:
                    self.popen.wait(timeout)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(self.popen.pid, signal.SIGKILL)
                    self.popen.wait(10)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)  # a forked child left behind
            return self.popen.returncode
        finally:
            self._out.close()


def _tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
    return pids


def _vm_rss_kib(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def repeated(
    config: RunConfig,
    contenders: Sequence[tuple[str, Callable[[], T]]],
    say: Callable[[str], None],
) -> dict[str, list[T | dict[str, Any]]]:
    """Run each contender ``config.repeat`` times, interleaved (round after round), so a slow
    drift of the machine affects all alike; each round starts one contender further on, so
    none always runs right after the same one; each run starts on a quiet broker. A failed
    run is tried once more (the broker is shared: another user may restart it); if that fails
    too it is kept as ``{"error": ...}``.
    """
    results: dict[str, list[T | dict[str, Any]]] = {key: [] for key, _ in contenders}
    for round_ in range(config.repeat):
        shift = round_ % len(contenders)
        for key, run in [*contenders[shift:], *contenders[:shift]]:
            config.broker.wait_quiet()
            say(f"  {key} (run {round_ + 1}/{config.repeat}, load {os.getloadavg()[0]:.2f})")
            for attempt in (1, 2):
                try:
                    results[key].append(run())
                    break
                except Exception as exc:  # one failed run must not lose the others
                    say(f"    failed: {str(exc).splitlines()[0]}")
                    if attempt == 2:
                        results[key].append({"error": str(exc)[:2000]})
                    else:
                        time.sleep(5)
    return results


def noop_app_importable() -> None:
    """Put ``bench/`` on ``sys.path``: in-process ``mq-compile`` imports ``noop_app``'s tasks."""
    if str(BENCH) not in sys.path:
        sys.path.append(str(BENCH))
