"""Real anvil processes for the relayer unit tests (a uniquely named module: tests import it
directly, which a second `conftest` in tests/e2e would otherwise shadow)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
ANVIL = REPO / "node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"


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
