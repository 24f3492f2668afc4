"""``python -m mqwire``: every mqwire command under one name, for when scripts are not on PATH.

``python -m mqwire compile|diff|graph|explain|export ...`` is ``mq-compile``,
``python -m mqwire serve ...`` is ``mserve`` and ``python -m mqwire ctl ...`` is ``mqctl``.
The runtime is imported only for ``serve`` and ``ctl``, so compiling never loads pika.
"""

from __future__ import annotations

from collections.abc import Sequence

from mqwire.compiler.cli import External
from mqwire.compiler.cli import main as compiler_main


def _serve(argv: list[str], prog: str) -> int:
    from mqwire.runtime.worker.mserve import main as mserve_main

    return mserve_main(argv, prog)


def _ctl(argv: list[str], prog: str) -> int:
    from mqwire.runtime.ops.mqctl import main as mqctl_main

    return mqctl_main(argv, prog)


#: The runtime's commands, beside the compiler's own (compile, diff, graph, explain, export).
EXTERNAL = {
    "serve": External(
        "the worker: consume the queues and run their tasks (mserve)", "serve compiled.ini", _serve
    ),
    "ctl": External(
        "operate the queues: counts, publish, dead letters (mqctl)", "ctl compiled.ini queues", _ctl
    ),
}


def main(argv: Sequence[str] | None = None) -> int:
    return compiler_main(argv, prog="python -m mqwire", external=EXTERNAL)


if __name__ == "__main__":
    raise SystemExit(main())
