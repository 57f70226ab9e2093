"""Real local services for the relayer unit tests: anvil chains and throwaway Redis servers (a
uniquely named module: tests import it directly, which tests/e2e's `conftest` would shadow)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
import requests

REPO = Path(__file__).resolve().parents[2]
ANVIL = REPO / "node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
PORT_SHIFT = int(os.environ.get("XMARGIN_TEST_PORT_SHIFT", "0"))
"""Added to every fixed anvil port of the unit tests, so two checkouts can test at once."""


def fixed_port(port: int) -> int:
    """The fixed port `port`, moved by $XMARGIN_TEST_PORT_SHIFT."""
    return port + PORT_SHIFT


def _rpc_ready(url: str) -> bool:
    """True once the node answers eth_chainId."""
    try:
        reply = requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}, timeout=1)
        return reply.ok
    except requests.RequestException:
        return False


def start_anvil(port: int, chain_id: int, deadline_s: float = 20.0) -> subprocess.Popen[bytes]:
    """Start the real anvil binary on `port` and wait (polling, with a deadline) until it answers."""
    if not ANVIL.exists():
        pytest.skip(f"anvil binary not found at {ANVIL}")
    proc = subprocess.Popen(
        [str(ANVIL), "--port", str(port), "--chain-id", str(chain_id), "--silent"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"anvil on port {port} exited with {proc.returncode}")
        if _rpc_ready(url):
            return proc
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"anvil on port {port} did not answer within {deadline_s}s")


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a process we started, killing it if it lingers."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@contextmanager
def throwaway_redis(port: int, deadline_s: float = 10.0) -> Iterator[str]:
    """A redis-server on `port` keeping nothing on disk, ready (polled) before its URL is yielded."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server not installed")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--save", "", "--appendonly", "no", "--daemonize", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    end = time.monotonic() + deadline_s
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"redis-server on {port} exited with {proc.returncode}")
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
        stop_process(proc)
