"""The real `xmargin` entry point turns bad input into one readable line and exit code 1 (never a
web3 dump or a traceback). Refusals that need a chain are proven in tests/e2e/test_5_status.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def _config(root: Path) -> Path:
    (root / "deployment.json").write_text(json.dumps({
        "hub": {"chain_id": 31337, "ledger": "0x" + "aa" * 20},
        "spokes": {"31338": {"lockbox": "0x" + "bb" * 20}},
        "validators": ["0x" + "cc" * 20], "threshold": 1,
    }))
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump({
        "chains": {
            "hub": {"chain_id": 31337, "rpc_urls": ["http://127.0.0.1:9"], "role": "hub"},
            "spoke-a": {"chain_id": 31338, "rpc_urls": ["http://127.0.0.1:9"], "role": "spoke"},
        },
        "deployment_file": str(root / "deployment.json"),
    }))
    return path


def _xmargin(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "relayer.cli", *args], capture_output=True, text=True,
                          timeout=60, env=env)


def test_account_of_a_malformed_address_says_not_an_address(tmp_path: Path) -> None:
    result = _xmargin("account", "0x1234", "--config", str(_config(tmp_path)))
    assert result.returncode == 1
    assert "not an address: '0x1234'" in result.stderr
    assert "Traceback" not in result.stderr and "Could not identify" not in result.stderr  # web3's dump


def test_a_deposit_to_a_malformed_account_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    key = "0x" + "11" * 32
    result = _xmargin("deposit", "--chain", "spoke-a", "--token", "0x" + "dd" * 20, "--amount", "1",
                      "--account", "0xnope", "--key", key, "--config", str(_config(tmp_path)))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "no token" in result.stderr  # input is checked in order: the token comes first
