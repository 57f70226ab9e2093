"""The short soak starts a devnet of its own (bench/soak.py), so it needs none of the session devnet."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _every_process_running() -> None:
    """Overrides tests/e2e/conftest.py's fixture of the same name, which would start the session devnet."""
