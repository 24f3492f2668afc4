"""``JsonFormatter``: one JSON object a line, with the fields log shippers index."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from mqwire.runtime.logs import JsonFormatter


@pytest.fixture
def logger() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger of its own (not in logging's registry) writing JSON lines to a buffer."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    own = logging.Logger("app.orders", logging.DEBUG)
    own.addHandler(handler)
    yield own, out


def lines(out: io.StringIO) -> list[dict[str, object]]:
    text = out.getvalue()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def test_time_is_iso_8601_utc_with_milliseconds() -> None:
    record = logging.makeLogRecord({"msg": "x", "created": 1764848132.25, "msecs": 250.0})

    assert json.loads(JsonFormatter().format(record))["time"] == "2025-12-04T11:35:32.250Z"


def test_a_line_has_level_logger_message_and_the_extra_fields_of_the_call(
    logger: tuple[logging.Logger, io.StringIO],
) -> None:
    own, out = logger
    own.warning("%s of %r", "ack", "orders", extra={"queue": "orders", "message_id": None})

    (line,) = lines(out)
    assert line.pop("time")
    assert line == {
        "level": "WARNING",
        "logger": "app.orders",
        "message": "ack of 'orders'",
        "queue": "orders",
        "message_id": None,
    }


def test_the_exception_is_one_string_and_the_line_stays_one_line(
    logger: tuple[logging.Logger, io.StringIO],
) -> None:
    own, out = logger
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        own.exception("task failed\nwith two lines")

    (line,) = lines(out)  # every newline escaped inside the strings
    assert line["message"] == "task failed\nwith two lines"
    exception = line["exception"]
    assert isinstance(exception, str)
    assert exception.startswith("Traceback (most recent call last):")
    assert exception.endswith("ValueError: boom\nsecond line")


def test_values_json_cannot_hold_are_written_as_text(
    logger: tuple[logging.Logger, io.StringIO],
) -> None:
    own, out = logger
    own.info("x", extra={"path": Path("/tmp/a"), "pairs": {(1, 2): 3}})

    (line,) = lines(out)
    assert line["path"] == "/tmp/a"
    assert line["pairs"] == "{(1, 2): 3}"


def test_the_formatters_own_fields_win_over_extra_fields_of_the_same_name(
    logger: tuple[logging.Logger, io.StringIO],
) -> None:
    own, out = logger
    own.error("real", extra={"level": "fake", "logger": "fake", "time": 0, "exception": "fake"})

    (line,) = lines(out)
    assert (line["level"], line["logger"], line["message"]) == ("ERROR", "app.orders", "real")
    assert "exception" not in line and isinstance(line["time"], str)


def test_lines_are_ascii_and_read_back_to_the_same_text(
    logger: tuple[logging.Logger, io.StringIO],
) -> None:
    own, out = logger
    own.info("Grüße \u2028 ✓")

    assert out.getvalue().isascii()
    assert lines(out)[0]["message"] == "Grüße \u2028 ✓"
