"""What applications import: the task decorator (publishers and the worker follow)."""

from __future__ import annotations

from .decorator import task_config

__all__ = ["task_config"]
