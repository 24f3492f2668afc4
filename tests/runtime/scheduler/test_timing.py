"""When schedules fire: periods keep their phase, cron reads its time zone, missed runs once."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

from mqwire.runtime.scheduler.timing import first_due, following, latest_due, next_after
from mqwire.topology.model import Schedule

EVERY = Schedule("tick", "work", "fast", every=30.0)
NIGHTLY = Schedule("audit", "work", "fast", cron="0 3 * * *", timezone="Asia/Tokyo")
TOKYO = ZoneInfo("Asia/Tokyo")


def at(*fields: int, zone: datetime.tzinfo = datetime.UTC) -> float:
    return datetime.datetime(*fields, tzinfo=zone).timestamp()  # type: ignore[misc]


def test_every_counts_from_the_last_run_and_keeps_its_phase() -> None:
    assert next_after(EVERY, 100.0) == 130.0
    assert latest_due(EVERY, 100.0, 129.9) is None
    assert latest_due(EVERY, 100.0, 195.0) == 190.0
    assert following(EVERY, 100.0, 101.0) == 130.0
    assert following(EVERY, 100.0, 195.0) == 220.0  # fell behind: the next run ahead, no pile


def test_cron_is_read_in_its_time_zone() -> None:
    start = at(2026, 12, 4, 12, 0)  # 21:00 in Tokyo
    assert next_after(NIGHTLY, start) == at(2026, 12, 5, 3, 0, zone=TOKYO)
    assert latest_due(NIGHTLY, start, at(2026, 12, 5, 3, 0, zone=TOKYO)) == at(
        2026, 12, 5, 3, 0, zone=TOKYO
    )  # a run due exactly now is due
    assert latest_due(NIGHTLY, start, at(2026, 12, 5, 2, 59, zone=TOKYO)) is None


def test_a_new_scheduler_starts_counting_from_now() -> None:
    assert first_due(EVERY, None, 1000.0) == (1030.0, False)


def test_runs_missed_while_no_scheduler_ran_are_fired_once_unless_skipped() -> None:
    last, now = at(2026, 12, 1, 3, 0, zone=TOKYO), at(2026, 12, 4, 12, 0)  # 3 nights missed
    assert first_due(NIGHTLY, last, now) == (at(2026, 12, 4, 3, 0, zone=TOKYO), True)
    skip = Schedule("audit", "work", "fast", cron="0 3 * * *", timezone="Asia/Tokyo",
                    missed="skip")  # fmt: skip
    assert first_due(skip, last, now) == (at(2026, 12, 5, 3, 0, zone=TOKYO), False)
    assert first_due(EVERY, 100.0, 195.0) == (190.0, True)
    assert first_due(EVERY, 100.0, 110.0) == (130.0, False)  # nothing missed: on schedule
