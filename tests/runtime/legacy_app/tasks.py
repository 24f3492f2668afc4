"""Tasks marked with ``@task_config``; importing this module registers nothing."""

from __future__ import annotations

from typing import Any

from mqwire.runtime import MessageRequest, task_config

#: (task name, context, request) per run; the tests clear it.
CALLS: list[tuple[str, Any, MessageRequest]] = []


class Job:
    """A root factory: the context a task gets, built from the request."""

    def __init__(self, request: MessageRequest) -> None:
        self.job_id = request.params.get("id")


@task_config(queue="jobs", root_factory=Job, timeout=5)
def run_job(context: Job, request: MessageRequest) -> None:
    CALLS.append((request.task_name, context, request))


@task_config(queue="mail", name="send_mail", consumer="jobs")
def mail(context: Any, request: MessageRequest) -> None:
    CALLS.append((request.task_name, context, request))


def not_a_task(context: Any, request: MessageRequest) -> None:
    """Unmarked: a scan must leave it alone."""
