"""Fixtures for the validator/submitter/worker tests: a private Redis (never the shared one)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from local_services import throwaway_redis

ROLES_REDIS_PORT = int(os.environ.get("XMARGIN_TEST_BASE_PORT", "6341")) + 51
"""6392 by default; beside $XMARGIN_TEST_BASE_PORT when set (see conftest.PRIVATE_REDIS_PORT)."""


@pytest.fixture(scope="module")
def roles_redis_url() -> Iterator[str]:
    """A throwaway redis-server on ROLES_REDIS_PORT (nothing on disk) for one module, stopped at its end."""
    with throwaway_redis(ROLES_REDIS_PORT) as url:
        yield url
