"""Tasks found by ``scan: [ticketing.notifications]``: marked here, listed by the compiler."""

from __future__ import annotations

from typing import Any

from mqwire.runtime import task_config

from .resources import LotteryResource
from .store import EVENTS


@task_config(root_factory=LotteryResource, queue="lots.mail", consumer="lots", timeout=10)
def send_lottery_mail(context: LotteryResource, request: Any) -> None:
    """Mail one lottery result (the example records it instead of sending)."""
    EVENTS.append(
        ("send_lottery_mail", {"lottery_id": context.lottery_id, "to": request.params.get("to")})
    )


@task_config(queue="lots.audit", timeout=10)
def audit_lottery_event(context: Any, request: Any) -> None:
    """Keep an audit trail of every lottery message, whatever its routing key."""
    EVENTS.append(("audit", {"routing_key": getattr(request, "routing_key", None)}))
