"""From the path a test names to a loaded registry: compile a topology, check an INI, load.

Whatever goes wrong fails the test with what ``mq-compile`` or ``load()`` would have said (the
located error lines), never with a traceback through mqwire.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path

import pytest

from mqwire.runtime import Registry, load
from mqwire.topology.errors import MqError
from mqwire.topology.ini import read_compiled_ini
from mqwire.topology.model import Transport

_TOPOLOGY_SUFFIXES = (".yaml", ".yml")


def compiled_ini(
    path: Path, folder: Path, *, transport: Transport | None = None, check_imports: bool = True
) -> Path:
    """``path`` itself when it is a compiled INI; else the topology compiled into ``folder``.

    ``transport`` compiles every publisher_consumer to it (``mq-compile --transport``);
    ``check_imports`` imports each task's path to check it, as ``mq-compile`` does.
    """
    __tracebackhide__ = True
    from mqwire.compiler.compile_cli import compile_file  # Jinja2 only when compiling
    from mqwire.compiler.output import write_atomically

    if path.suffix == ".ini":
        if not path.is_file():
            pytest.fail(f"{path}: no such compiled INI", pytrace=False)
        return path
    if path.suffix not in _TOPOLOGY_SUFFIXES:
        pytest.fail(
            f"{path}: expected a topology file (.yaml or .yml) or a compiled INI (.ini)",
            pytrace=False,
        )
    errors = io.StringIO()
    outputs = compile_file(
        str(path), errors, output_dir=str(folder), transport=transport, check_imports=check_imports
    )
    if outputs is None:
        pytest.fail(f"mq-compile {path}:\n{errors.getvalue().rstrip()}", pytrace=False)
    for output in outputs:
        write_atomically(output.path, output.text)
    return folder / "compiled.ini"


def require_local(ini: Path) -> None:
    """Fail unless every publisher_consumer of ``ini`` is on the local transport."""
    __tracebackhide__ = True
    try:
        compiled = read_compiled_ini(ini.read_text(encoding="utf-8"), source_name=str(ini))
    except (OSError, MqError) as exc:
        problem = f"{ini}: {exc}"
    else:
        pcs = compiled.topology.publisher_consumers.values()
        amqp = sorted(pc.name for pc in pcs if pc.transport != "local")
        if not amqp:
            return
        problem = (
            f"{ini}: publisher_consumer(s) {', '.join(map(repr, amqp))} use the amqp transport; "
            "mqwire_local needs the local one: give it the topology file (it compiles it to the "
            "local transport) or an INI compiled with `mq-compile --transport local`"
        )
    pytest.fail(problem, pytrace=False)  # outside the except: no chained traceback


def load_registry(ini: Path, environ: Mapping[str, str]) -> Registry:
    """``load(ini, environ=...)``; a configuration error fails the test with its message."""
    __tracebackhide__ = True
    try:
        return load(ini, environ=environ)
    except MqError as exc:
        problem = f"load({str(ini)!r}): {exc}"
    pytest.fail(problem, pytrace=False)  # outside the except: no chained traceback
