"""``mserve development.ini`` logs as the file's ``[loggers]`` say, as ``pserve`` would, unless
the command line says how to log (``--log-config``, ``--log-level``, ``--log-format``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mqwire.testing import WorkerProcess

pytestmark = pytest.mark.broker

#: The sections ``pcreate``'s scaffolds write, with a format of their own.
LOGGING = """
[loggers]
keys = root, mqwire

[handlers]
keys = console

[formatters]
keys = app

[logger_root]
level = WARNING
handlers = console

[logger_mqwire]
level = INFO
handlers =
qualname = mqwire

[handler_console]
class = StreamHandler
args = (sys.stderr,)
formatter = app

[formatter_app]
format = from-the-ini %(levelname)s [%(name)s] %(message)s
"""

#: A line of mserve's own text format (``--log-level`` and the other options).
OWN_FORMAT = re.compile(r"^\S+ \S+ INFO mqwire\.worker: cart: consuming", re.MULTILINE)


def app_ini(example: Path, folder: Path, logging: str = LOGGING) -> Path:
    ini = folder / "development.ini"
    ini.write_text((example / "development.ini").read_text() + logging)
    return ini


def test_mserve_logs_as_the_ini_says(
    example_on_path: Path, tmp_path: Path, serve_shop: Callable[..., tuple[WorkerProcess, Any]]
) -> None:
    worker, _ = serve_shop(app_ini(example_on_path, tmp_path))

    assert "from-the-ini INFO [mqwire.worker] cart: consuming orders" in worker.output()
    assert not OWN_FORMAT.search(worker.output())
    assert worker.stop() == 0


@pytest.mark.parametrize(
    "args", [("--log-level", "INFO"), ("--log-format", "text")], ids=["level", "format"]
)
def test_a_logging_option_on_the_command_line_wins_over_the_ini(
    args: tuple[str, ...],
    example_on_path: Path,
    tmp_path: Path,
    serve_shop: Callable[..., tuple[WorkerProcess, Any]],
) -> None:
    worker, _ = serve_shop(app_ini(example_on_path, tmp_path), args)

    assert OWN_FORMAT.search(worker.output()), worker.output()
    assert "from-the-ini" not in worker.output()
    assert worker.stop() == 0


def test_logging_sections_the_stdlib_refuses_are_a_configuration_error(
    example_on_path: Path,
    tmp_path: Path,
    fresh_vhost_url: str,
    mqwire_worker: Callable[..., WorkerProcess],
) -> None:
    broken = LOGGING.replace("class = StreamHandler", "class = no.such.Handler")
    ini = app_ini(example_on_path, tmp_path, broken)
    environ = {"PYTHONPATH": str(example_on_path), "AMQP_URL": fresh_vhost_url}

    worker = mqwire_worker(ini, environ, wait_ready=False)

    assert worker.wait() == 2
    assert "its logging sections cannot be applied: ModuleNotFoundError" in worker.output()
