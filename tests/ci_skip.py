"""Skipping a test whose tool or service is missing: locally only; in CI it must run, so fail."""

from __future__ import annotations

import importlib.util
import os

import pytest


def skip_unless_ci(reason: str) -> None:
    """Skip here; fail when ``CI`` is set, so CI never passes without running the test."""
    if os.environ.get("CI"):
        pytest.fail(reason + " (CI must run this test)")
    pytest.skip(reason)


def import_or_skip(*modules: str, install: str) -> None:
    """``pytest.importorskip`` for a module of tests, failing in CI (``install`` says how).

    Called at the top of a folder's ``conftest.py``, it skips (or fails) the whole folder.
    """
    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if not missing:
        return
    reason = f"{', '.join(missing)} not installed ({install})"
    if os.environ.get("CI"):
        pytest.fail(reason + " (CI must run these tests)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)
