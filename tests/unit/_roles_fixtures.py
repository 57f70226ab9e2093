"""Fixtures for the validator/submitter/worker tests: a private Redis on 6392 (never the shared one)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from local_services import throwaway_redis

ROLES_REDIS_PORT = 6392


@pytest.fixture(scope="module")
def roles_redis_url() -> Iterator[str]:
    """A throwaway redis-server on 6392 (nothing on disk) for one module, stopped at its end."""
    with throwaway_redis(ROLES_REDIS_PORT) as url:
        yield url
