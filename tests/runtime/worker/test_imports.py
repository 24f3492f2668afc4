"""A worker imports what it runs and nothing else: start-up time and memory depend on it."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pika  # type: ignore[import-untyped]
import pytest

from mqwire.testing import wait_until

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "ticketing"

#: Never needed to serve: the compiler, its templates, the YAML loader, the schema checker.
NOT_FOR_WORKERS = ("mqwire.compiler", "jinja2", "yaml", "jsonschema")
#: Optional integrations, imported only by an application (or its topology's middleware:).
OPTIONAL = ("mqwire.otel", "opentelemetry", "prometheus_client", "mqwire.pyramid", "pyramid")
#: Only for what the ticketing example does not have or ask for: ``schedules:`` and
#: ``--schedules`` (croniter), ``--processes`` (the supervisor), ``--http``; and never: the
#: start-up binding check's HTTP must not leave http.client and the email package resident,
#: nor argparse's help width shutil with bz2 and lzma.
NOT_FOR_THIS_WORKER = (
    "croniter", "mqwire.runtime.scheduler", "mqwire.runtime.worker.supervisor",
    "mqwire.runtime.worker.restarts", "mqwire.runtime.worker.status_http", "http.client",
    "email", "urllib.request", "shutil", "bz2", "lzma",
)  # fmt: skip


def imported_after(code: str) -> set[str]:
    script = f"""
import sys
{code}
print("\\n".join(sorted(sys.modules)))
"""
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(EXAMPLE), "PATH": "/usr/bin:/bin"},
    )
    return set(done.stdout.split())


def loaded(modules: set[str], prefix: str) -> list[str]:
    return sorted(m for m in modules if m == prefix or m.startswith(prefix + "."))


def test_mserve_and_the_worker_import_no_compiler_yaml_or_schema_checker() -> None:
    modules = imported_after(
        "import mqwire.runtime.worker.mserve, mqwire.runtime.worker.worker\n"
        "from mqwire.runtime import load\n"
        f"load({str(EXAMPLE / 'compiled.ini')!r})"
    )
    assert "mqwire.runtime.wiring.load" in modules  # the probe ran
    for prefix in (*NOT_FOR_WORKERS, *OPTIONAL):
        assert loaded(modules, prefix) == []


def test_importing_the_decorator_loads_neither_the_loader_nor_pika() -> None:
    """Application modules import ``task_config``; the web app must not pay for a worker."""
    modules = imported_after("from mqwire.runtime import task_config")
    assert "mqwire.runtime.decorator" in modules
    for prefix in (*NOT_FOR_WORKERS, *OPTIONAL, "pika", "tornado", "mqwire.topology.loader"):
        assert loaded(modules, prefix) == []


def test_the_worker_itself_imports_no_pika_tornado_or_amqp_edge() -> None:
    """What talks to the broker is injected: the worker runs on fakes without any of them."""
    modules = imported_after("import mqwire.runtime.worker.worker")
    assert "mqwire.runtime.worker.worker" in modules
    for prefix in ("pika", "tornado", "mqwire.runtime.amqp"):
        assert loaded(modules, prefix) == []


#: Runs mserve; on SIGUSR1 writes its modules and threads to the file named first.
DUMPING_MSERVE = """
import signal, sys, threading
out = sys.argv.pop(1)
def dump(*_):
    names = [*sorted(sys.modules), *("thread:" + t.name for t in threading.enumerate())]
    with open(out + ".part", "w") as f:
        f.write("\\n".join(names))
    import os
    os.replace(out + ".part", out)
signal.signal(signal.SIGUSR1, dump)
from mqwire.runtime.worker.mserve import main
sys.exit(main())
"""
QUEUES = ("cart", "lots.election", "lots.mail", "lots.audit")


@pytest.fixture
def consuming_worker(fresh_vhost_url: str, tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """The ticketing example's worker, consuming every queue; its pid and its dump file."""
    out = tmp_path / "modules.txt"
    argv = [sys.executable, "-c", DUMPING_MSERVE, str(out), str(EXAMPLE / "compiled.ini")]
    env = {**os.environ, "AMQP_URL": fresh_vhost_url, "PYTHONPATH": str(EXAMPLE)}
    log = (tmp_path / "mserve.log").open("wb")
    worker = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        with pika.BlockingConnection(pika.URLParameters(fresh_vhost_url)) as connection:

            def consumers() -> bool:
                assert worker.poll() is None, (tmp_path / "mserve.log").read_text()
                channel = connection.channel()
                try:
                    counts = [channel.queue_declare(q, passive=True).method for q in QUEUES]
                except pika.exceptions.ChannelClosedByBroker:
                    return False  # not declared yet
                finally:
                    if channel.is_open:
                        channel.close()
                return all(c.consumer_count == 1 for c in counts)

            wait_until(consumers, timeout=30, what="mserve consuming every queue")
        yield worker.pid, out
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()


def test_a_consuming_worker_and_its_binding_check_import_only_what_they_use(
    consuming_worker: tuple[int, Path],
) -> None:
    """Checked in the running ``mserve`` once its start-up binding check has run."""
    pid, out = consuming_worker

    def checked() -> set[str] | None:
        out.unlink(missing_ok=True)
        os.kill(pid, signal.SIGUSR1)
        names = set(wait_until(lambda: out.exists() and out.read_text().split(), timeout=10))
        checking = "thread:mqwire-binding-check" in names
        done = "mqwire.runtime.ops.management_api" in names and not checking
        return names if done else None

    modules = wait_until(checked, timeout=30, what="the start-up binding check to have run")
    assert "mqwire.runtime.amqp.session" in modules  # the probe ran in the worker
    for prefix in (*NOT_FOR_WORKERS, *OPTIONAL, *NOT_FOR_THIS_WORKER):
        assert loaded(modules, prefix) == []
    # its @task_config tasks are marked without venusian's callbacks (no Pyramid scan here),
    # though the test extra installs venusian (with Pyramid)
    assert importlib.util.find_spec("venusian") is not None
    assert loaded(modules, "venusian") == []
