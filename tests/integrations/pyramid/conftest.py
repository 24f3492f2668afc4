"""mqwire.pyramid's tests need Pyramid and WebTest (the `test` extra): skipped without them
locally, failing in CI. The example app (examples/pyramid_app) is imported from its folder."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mqwire.testing import import_or_skip

import_or_skip("pyramid", "webtest", "plaster_pastedeploy", install="pip install -e '.[test]'")

#: The example application's folder (its package ``shop`` and development.ini).
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "pyramid_app"


@pytest.fixture
def example_on_path() -> Iterator[Path]:
    """examples/pyramid_app on ``sys.path`` for one test, its modules forgotten after it."""
    sys.path.insert(0, str(EXAMPLE))
    try:
        yield EXAMPLE
    finally:
        sys.path.remove(str(EXAMPLE))
        for name in [m for m in sys.modules if m == "shop" or m.startswith("shop.")]:
            del sys.modules[name]
