"""Shared fixtures for the relayer unit tests: the independent reference helper and real anvils."""

from __future__ import annotations

import importlib.util
import os
import subprocess
from collections.abc import Callable, Iterator
from types import ModuleType

import pytest

from local_services import REPO, fixed_port, start_anvil, stop_process, throwaway_redis


@pytest.fixture(scope="session")
def ref() -> ModuleType:
    """tests/contracts/checkpoints.py: an implementation written independently of relayer.proofs."""
    path = REPO / "tests/contracts/checkpoints.py"
    spec = importlib.util.spec_from_file_location("xmargin_reference_checkpoints", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def anvil_factory() -> Iterator[Callable[[int, int], subprocess.Popen[bytes]]]:
    """Start real anvils on given (port, chain id) for one module; all stopped at its end."""
    started: list[subprocess.Popen[bytes]] = []

    def start(port: int, chain_id: int) -> subprocess.Popen[bytes]:
        proc = start_anvil(port, chain_id)
        started.append(proc)
        return proc

    try:
        yield start
    finally:
        for proc in started:
            if proc.poll() is None:
                stop_process(proc)


@pytest.fixture(scope="module")
def anvil_url() -> Iterator[str]:
    """A fresh anvil (chain id 31338) on port 8720 for one test module."""
    port = fixed_port(8720)
    proc = start_anvil(port, 31338)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(proc)


PRIVATE_REDIS_PORT = int(os.environ.get("XMARGIN_TEST_BASE_PORT", "6341")) + 50
"""6391 by default; beside $XMARGIN_TEST_BASE_PORT when set, so checkouts testing at once never share it."""


@pytest.fixture(scope="session")
def private_redis_url() -> Iterator[str]:
    """A throwaway redis-server on PRIVATE_REDIS_PORT (nothing on disk), stopped at the end of the session."""
    with throwaway_redis(PRIVATE_REDIS_PORT) as url:
        yield url
