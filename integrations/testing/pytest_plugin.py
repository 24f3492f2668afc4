"""mqwire's pytest plugin (entry point ``pytest11: mqwire``): fixtures for applications' tests.

- ``mqwire_local(path, environ=None)``: the registry of a topology compiled to the local
  transport (or of a compiled INI): tasks run in-process as the test publishes.
- ``rabbitmq_url``: a throw-away vhost on a real broker, deleted after the test.
- ``mqwire_worker(path, environ=None)``: ``mserve`` running for the rest of the test; its log
  shows in the report of a test that fails.

pytest loads this module in every run of every project that has mqwire installed, so it
imports nothing of mqwire until a fixture runs. See docs/testing.md.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from mqwire.runtime import Registry

    from .broker import TestBroker
    from .worker import WorkerProcess

#: The workers a test started, for the report of a test that fails.
WORKERS = pytest.StashKey["list[WorkerProcess]"]()
#: How much of a worker's log a failure report shows (the whole log stays in its file).
LOG_TAIL_LINES = 300

PathArg = str | os.PathLike[str]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mqwire")
    group.addoption(
        "--mqwire-amqp-url",
        metavar="URL",
        help="the RabbitMQ broker for rabbitmq_url's throw-away vhosts (default: "
        "$MQWIRE_TEST_AMQP_URL, else amqp://guest:guest@127.0.0.1:5672/%%2F)",
    )
    group.addoption(
        "--mqwire-management-url",
        metavar="URL",
        help="its management API, needed when the broker is not on AMQP's default port "
        "(default: $MQWIRE_TEST_MANAGEMENT_URL, else derived from the AMQP URL)",
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """The report of a failed test (any phase) shows the log of each worker it started."""
    report = yield
    if report.failed:
        for worker in item.stash.get(WORKERS, []):
            title = f"mserve log ({worker.ini.name}, pid {worker.pid})"
            report.sections.append((title, log_tail(worker.log)))
    return report


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of a log, saying where the rest is when some were cut."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError as exc:
        return f"(cannot read {path}: {exc})"
    if len(text) <= lines:
        return "\n".join(text) or "(empty)"
    return "\n".join([f"... {len(text) - lines} line(s) before these: {path}", *text[-lines:]])


@pytest.fixture(scope="session")
def mqwire_broker(pytestconfig: pytest.Config) -> TestBroker:
    """The broker the fixtures use; skips the test when it is unreachable (fails when ``CI``
    is set, so CI never passes without the broker tests)."""
    from .broker import TestBroker, skip_unless_ci

    broker = TestBroker.chosen(
        pytestconfig.getoption("mqwire_amqp_url"),
        pytestconfig.getoption("mqwire_management_url"),
        os.environ,
    )
    problem = broker.unreachable()
    if problem is not None:
        skip_unless_ci(problem)
    return broker


@pytest.fixture
def rabbitmq_url(mqwire_broker: TestBroker, request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of a vhost made for this test (every right for the URL's user), deleted after it."""
    from .broker import throwaway_vhost

    with throwaway_vhost(mqwire_broker, request.node.name) as url:
        yield url


@pytest.fixture
def mqwire_local(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[..., Registry]]:
    """``mqwire_local(path, environ=None)``: a loaded registry on the local transport.

    ``path`` (relative to pytest's rootdir) is a topology file, compiled to the local transport
    in a temporary folder, or an INI compiled with ``--transport local``. ``environ`` is added
    to the environment its ``${VAR}`` placeholders resolve from. The rootdir is put on
    ``sys.path`` for the test, so the tasks import; the registries are closed after it.
    """
    root = request.config.rootpath
    monkeypatch.syspath_prepend(str(root))
    loaded: list[Registry] = []

    def make(path: PathArg, environ: Mapping[str, str] | None = None) -> Registry:
        __tracebackhide__ = True
        from .compiling import compiled_ini, load_registry, require_local

        ini = compiled_ini(root / path, tmp_path_factory.mktemp("mqwire-local"), transport="local")
        require_local(ini)
        loaded.append(load_registry(ini, {**os.environ, **(environ or {})}))
        return loaded[-1]

    yield make
    for registry in loaded:
        registry.close()


@pytest.fixture
def mqwire_worker(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[..., WorkerProcess]]:
    """``mqwire_worker(path, environ=None, *, args=(), wait_ready=True)``: ``mserve`` running.

    ``path`` (relative to pytest's rootdir) is a compiled INI, or a topology file compiled
    first. ``environ`` is added to the worker's environment (``${AMQP_URL}`` resolves from it),
    the rootdir comes first on its ``PYTHONPATH``, ``args`` are more ``mserve`` options. It
    returns once the worker consumes (unless ``wait_ready=False``); it is killed after the test.
    """
    root = request.config.rootpath
    monkeypatch.syspath_prepend(str(root))  # for the registry the handle loads here
    started = request.node.stash.setdefault(WORKERS, [])

    def start(
        path: PathArg,
        environ: Mapping[str, str] | None = None,
        *,
        args: Sequence[str] = (),
        wait_ready: bool = True,
    ) -> WorkerProcess:
        __tracebackhide__ = True
        from .compiling import compiled_ini
        from .worker import WorkerProcess

        folder = tmp_path_factory.mktemp("mqwire-worker")
        ini = compiled_ini(root / path, folder)
        worker = WorkerProcess(ini, log_dir=folder, environ=environ, args=args, pythonpath=[root])
        started.append(worker)
        if wait_ready:
            worker.wait_ready()
        return worker

    yield start
    for worker in started:
        worker.kill()
