"""Celery's side of the benchmark: a no-op task, ``acks_late``, results ignored.

The worker runs ``celery -A celery_app worker --pool solo --concurrency 1`` with ``bench/`` on
its path and ``BENCH_AMQP_URL``/``BENCH_PREFETCH`` in its environment; its prefetch is
``worker_prefetch_multiplier`` x 1 process, the same as the other contenders'.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery  # type: ignore[import-untyped]

QUEUE = "bench"
TASK = "bench.noop"


def noop(**payload: Any) -> None:
    return None


def make_app(url: str, prefetch: int = 100) -> Any:
    app = Celery("bench", broker=url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_ignore_result=True,
        task_default_queue=QUEUE,
        worker_prefetch_multiplier=prefetch,
        worker_enable_remote_control=False,  # no pidbox queue: only the benchmark's queue
        worker_send_task_events=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"confirm_publish": True},  # publish() waits for the confirm
    )
    app.task(name=TASK)(noop)
    return app


app = make_app(
    os.environ.get("BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//"),
    int(os.environ.get("BENCH_PREFETCH", "100")),
)
