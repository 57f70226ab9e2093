"""Fixtures for the validator/submitter/worker tests: a private Redis on 6392 (never the shared one)."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis

ROLES_REDIS_PORT = 6392


@pytest.fixture(scope="module")
def roles_redis_url() -> Iterator[str]:
    """A throwaway redis-server on 6392 (nothing on disk) for one module, stopped at its end."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server not installed")
    proc = subprocess.Popen(
        [binary, "--port", str(ROLES_REDIS_PORT), "--save", "", "--appendonly", "no", "--daemonize", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{ROLES_REDIS_PORT}/0"
    client = redis.Redis.from_url(url)
    end = time.monotonic() + 10
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"redis-server on {ROLES_REDIS_PORT} exited with {proc.returncode}")
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > end:
                    raise
                time.sleep(0.05)
        yield url
    finally:
        client.close()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
