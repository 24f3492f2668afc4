"""An in-memory stand-in for the site's database, so the example runs anywhere."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

#: Seats held per cart; the release task gives them back.
HELD_SEATS: dict[int, list[str]] = defaultdict(list)

#: What the tasks did, in order, for the walk-through's output and the tests.
EVENTS: list[tuple[str, Any]] = []
