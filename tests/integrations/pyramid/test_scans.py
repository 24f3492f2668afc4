"""``@task_config`` is found by both scans, and needs neither Pyramid nor venusian."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from mqwire.runtime import task_config
from mqwire.topology.scan import scan_packages


def test_mqwires_own_scan_still_finds_the_example_task(example_on_path: Path) -> None:
    result = scan_packages(["shop"])

    assert result.problems == ()
    assert [(t.name, t.task, t.queue, t.root_factory) for t in result.tasks] == [
        ("record_order", "shop.tasks:record_order", "orders", "shop.resources:OrderResource")
    ]


def test_the_decorator_works_without_venusian(tmp_path: Path) -> None:
    """In a process where venusian cannot be imported (as without Pyramid installed)."""
    (tmp_path / "plain_tasks.py").write_text(
        textwrap.dedent("""
            from mqwire.runtime import task_config

            @task_config(queue="jobs")
            def job(context, request): ...
        """)
    )
    script = textwrap.dedent("""
        import sys
        sys.modules["venusian"] = None  # import venusian raises ImportError
        import mqwire.runtime.decorator
        from mqwire.topology.scan import scan_packages
        found = scan_packages(["plain_tasks"])
        import plain_tasks
        print([t.task for t in found.tasks], hasattr(plain_tasks.job, "__venusian_callbacks__"))
    """)

    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=True
    )

    assert done.stdout.split("\n")[0] == "['plain_tasks:job'] False"


def test_importing_the_decorator_loads_no_venusian(tmp_path: Path) -> None:
    script = "import sys, mqwire.runtime.decorator; print('venusian' in sys.modules)"

    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=True
    )

    assert done.stdout.strip() == "False"


def test_tasks_marked_without_scan_callbacks_get_the_mark_and_no_venusian_callback() -> None:
    """What ``mserve`` does for a compiled INI: no Pyramid scan there, so no frame inspection."""
    from mqwire.runtime.decorator import without_scan_callbacks
    from mqwire.topology.task_mark import TASK_MARK

    def plain(context: object, request: object) -> None: ...

    def scanned(context: object, request: object) -> None: ...

    with without_scan_callbacks():
        task_config(queue="jobs")(plain)
    task_config(queue="jobs")(scanned)

    assert getattr(plain, TASK_MARK).queue == getattr(scanned, TASK_MARK).queue == "jobs"
    assert not hasattr(plain, "__venusian_callbacks__")
    assert hasattr(scanned, "__venusian_callbacks__")
