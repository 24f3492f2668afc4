"""A delayed message waits on the broker's delay ladder, not in a worker: it outlives an
``mserve`` restart and runs once, after its delay, in the worker that runs then."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from mserve_harness import Mserve, all_done, events, queue_state, wait_until

from mqwire.runtime import Registry
from mqwire.topology import delays


@pytest.mark.parametrize("mserve_delays", [True])
def test_a_delayed_message_outlives_a_restart_of_mserve(
    setup: tuple[Path, Registry], start: Callable[..., Mserve], mserve_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "records.txt"
    first = start()
    began = time.monotonic()
    setup[1].publisher("work").publish({"id": 1}, routing_key="fast", delay=3)
    assert queue_state(mserve_url, [delays.level_queue(1)])[delays.level_queue(1)] == (1, 0)
    assert first.stop() == 0  # it never saw the message: the broker holds it

    second = start()  # declares the whole plan again, ladder included: nothing is lost
    wait_until(all_done(log, {"1"}), timeout=30, what="the delayed message done")
    assert time.monotonic() - began >= 3
    done = [(queue, id_, pid) for event, queue, id_, pid in events(log) if event == "done"]
    assert done == [("fast", "1", second.pid)]  # once, by the worker running when it was due
