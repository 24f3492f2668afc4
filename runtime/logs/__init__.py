"""Logging for mqwire's commands: ``--log-config``, ``--log-format json``, ``--log-level``.

``JsonFormatter`` is the one public name: a ``--log-config`` file uses it for JSON lines
(``"()": mqwire.runtime.logs.JsonFormatter``). Stdlib only; nothing here imports pika.
"""

from __future__ import annotations

from .json_format import JsonFormatter

__all__ = ["JsonFormatter"]
