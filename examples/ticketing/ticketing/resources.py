"""Root factories: build each task's ``context`` from its request, as Pyramid resources do."""

from __future__ import annotations

from typing import Any


class CartResource:
    """The cart a release message names, looked up once per message."""

    def __init__(self, request: Any) -> None:
        self.request = request
        self.cart_id = int(request.params["cart_id"])


class LotteryResource:
    """The lottery an election or mail message is about."""

    def __init__(self, request: Any) -> None:
        self.request = request
        self.lottery_id = request.params.get("lottery_id")
