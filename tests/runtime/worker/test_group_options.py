"""``--processes auto``: the CPUs this process can use, as a container limits them."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

import pytest

from mqwire.runtime.worker.group_options import CPU_MAX, processes, usable_cpus


def cpu_max(text: str | None) -> Callable[[str], str]:
    """A ``read_file`` holding ``text`` as ``cpu.max``; None: no such file (no cgroup v2)."""

    def read_file(path: str) -> str:
        assert path == CPU_MAX
        if text is None:
            raise FileNotFoundError(path)
        return text

    return read_file


@pytest.mark.parametrize(
    ("cpus", "text", "expected"),
    [
        (8, None, 8),  # no cgroup v2: the CPUs it may run on
        (8, "max 100000\n", 8),  # no quota
        (8, "200000 100000\n", 2),
        (8, "150000 100000\n", 2),  # 1.5 CPUs: rounded up
        (8, "50000 100000\n", 1),  # half a CPU: still one process
        (2, "400000 100000\n", 2),  # affinity narrower than the quota
        (None, "300000 100000\n", 3),  # affinity unknown: the quota
        (None, None, 1),
        (8, "garbled\n", 8),
        (8, "100000 0\n", 8),
    ],
)
def test_usable_cpus_are_the_affinity_within_the_cgroup_quota(
    cpus: int | None, text: str | None, expected: int
) -> None:
    assert usable_cpus(cpus, cpu_max(text)) == expected


def test_auto_is_at_least_one_and_no_more_than_this_process_may_run_on() -> None:
    assert 1 <= processes("auto") <= len(os.sched_getaffinity(0))


@pytest.mark.parametrize("text", ["0", "-1", "two"])
def test_a_count_below_one_or_not_a_number_is_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        processes(text)
