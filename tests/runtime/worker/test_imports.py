"""A worker imports what it runs and nothing else: start-up time and memory depend on it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "ticketing"

#: Never needed to serve: the compiler, its templates, the YAML loader, the schema checker.
NOT_FOR_WORKERS = ("mqwire.compiler", "jinja2", "yaml", "jsonschema")
#: Optional integrations, imported only by an application (or its topology's middleware:).
OPTIONAL = ("mqwire.otel", "opentelemetry", "prometheus_client", "mqwire.pyramid", "pyramid")


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
