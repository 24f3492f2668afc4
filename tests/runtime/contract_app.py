"""Tasks of the publisher contract tests: they record what they receive, nothing else."""

from __future__ import annotations

from typing import Any

from mqwire.runtime import MessageRequest

#: (task name, request) per run, in run order; the tests clear it.
RECORDED: list[tuple[str, MessageRequest]] = []


class OrderResource:
    """A root factory: the context is built from the request, as Pyramid resources are."""

    def __init__(self, request: MessageRequest) -> None:
        self.order_id = request.params.get("id")


def record(context: Any, request: MessageRequest) -> None:
    RECORDED.append((request.task_name, request))


def start_chain(context: Any, request: MessageRequest) -> None:
    """Publish one follow-up per step; they run after this task, never inside it."""
    RECORDED.append((request.task_name, request))
    publisher = request.registry.publisher("jobs")
    for step in range(int(request.params["steps"])):
        publisher.publish(body={"id": step}, routing_key="orders.followup")
