"""One JSON object per log line, for log shippers (Loki, Elasticsearch, CloudWatch): stdlib only."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

#: What every record has (and what ``Formatter.format`` adds): any other attribute came from
#: ``extra=``. ``taskName`` is Python 3.12's.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}
#: The fields the formatter writes itself; an ``extra=`` field of the same name is left out.
_OWN = frozenset({"time", "level", "logger", "message", "exception", "stack"})


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", ...extra fields, "exception"}`` on one line.

    ``time`` is ISO 8601 in UTC with milliseconds (``2026-12-04T11:35:32.613Z``); the fields a
    log call passes with ``extra=`` (mserve's per-message line: ``queue``, ``task``,
    ``message_id``, ``attempt``, ``result``, ``duration``) follow the message, a value JSON
    cannot hold written as its ``str``; ``exception`` (the formatted traceback) and ``stack``
    only when the record has them. Lines are ASCII (non-ASCII as ``\\uXXXX``), so every
    stream takes them. The message is the one the text format shows: what mqwire scrubs of
    passwords before logging it is scrubbed here too.

    A ``format``/``datefmt`` given in a configuration file is ignored: the fields are fixed.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": utc_timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in _OWN:
                entry[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)  # cached, as Formatter does
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        try:
            return json.dumps(entry, default=str)
        except (TypeError, ValueError):  # an extra JSON cannot hold (tuple keys, a cycle)
            return json.dumps({k: _plain(v) for k, v in entry.items()}, default=str)


def utc_timestamp(record: logging.LogRecord) -> str:
    """When ``record`` was made, as ISO 8601 in UTC with milliseconds."""
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    return f"{seconds}.{int(record.msecs):03d}Z"


def _plain(value: object) -> object:
    """``value`` if JSON holds it as it is, else its ``repr``."""
    try:
        json.dumps(value, default=str)
    except (TypeError, ValueError):
        return repr(value)
    return value
