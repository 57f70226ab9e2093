"""`xmargin validator halts|clear-halt` through the real entry point on a real signing database:
a halted route is listed with its reason, clearing needs --yes, leaves the signatures (so a
conflicting head still halts again) unless --forget-above drops them, and bad input is one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from relayer.errors import SigningConflictError
from relayer.types import RouteId
from relayer.validator.signer_db import SignedCheckpoint, SignerDb

REPO = Path(__file__).resolve().parents[2]
ROUTE = RouteId.parse("deposit:31338->31337")
SOURCE, DEST = "0x" + "bb" * 20, "0x" + "aa" * 20


def _config(root: Path, with_validator: bool = True) -> Path:
    (root / "deployment.json").write_text(json.dumps({
        "hub": {"chain_id": 31337, "ledger": DEST},
        "spokes": {"31338": {"lockbox": SOURCE}},
        "validators": ["0x" + "cc" * 20], "threshold": 1,
    }))
    settings: dict[str, object] = {
        "chains": {
            "hub": {"chain_id": 31337, "rpc_urls": ["http://127.0.0.1:9"], "role": "hub"},
            "spoke-a": {"chain_id": 31338, "rpc_urls": ["http://127.0.0.1:9"], "role": "spoke"},
        },
        "deployment_file": str(root / "deployment.json"),
    }
    if with_validator:
        settings["validator"] = {"name": "validator-1", "key": "0x" + "11" * 32, "db_path": str(root / "signer.db")}
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


def _xmargin(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "relayer.cli", "validator", *args], capture_output=True, text=True,
                          timeout=180, env=env)


def _signed(nonce: int, head: bytes) -> SignedCheckpoint:
    return SignedCheckpoint(nonce=nonce, head=head, signature=b"\x01" * 65, block=10 + nonce, block_hash=b"\x02" * 32)


@pytest.fixture()
def halted(tmp_path: Path) -> Path:
    """A signing database that signed nonces 1 and 2, then was asked a second head for nonce 2."""
    config = _config(tmp_path)
    with SignerDb(tmp_path / "signer.db") as db:
        db.record(ROUTE, SOURCE, DEST, _signed(1, b"\x11" * 32))
        db.record(ROUTE, SOURCE, DEST, _signed(2, b"\x22" * 32))
        with pytest.raises(SigningConflictError):
            db.record(ROUTE, SOURCE, DEST, _signed(2, b"\x33" * 32))
    return config


def test_halts_lists_the_route_and_its_reason(halted: Path) -> None:
    result = _xmargin("halts", "--config", str(halted))
    assert result.returncode == 0, result.stderr
    assert str(ROUTE) in result.stdout and "nonce 2" in result.stdout


def test_clear_halt_needs_yes_and_keeps_the_signatures(halted: Path, tmp_path: Path) -> None:
    refused = _xmargin("clear-halt", str(ROUTE), "--config", str(halted))
    assert refused.returncode == 1 and "--yes" in refused.stderr and "Traceback" not in refused.stderr
    with SignerDb(tmp_path / "signer.db") as db:
        assert db.halted(ROUTE) is not None  # nothing changed without --yes

    cleared = _xmargin("clear-halt", str(ROUTE), "--yes", "--config", str(halted))
    assert cleared.returncode == 0, cleared.stderr
    assert f"route {ROUTE} cleared" in cleared.stdout
    with SignerDb(tmp_path / "signer.db") as db:
        assert db.halted(ROUTE) is None
        assert db.signed(ROUTE, SOURCE, DEST, 2) is not None  # still recorded: the conflict halts again
        with pytest.raises(SigningConflictError):
            db.record(ROUTE, SOURCE, DEST, _signed(2, b"\x33" * 32))
    assert "no halted route" not in _xmargin("halts", "--config", str(halted)).stdout


def test_forget_above_drops_later_records(halted: Path, tmp_path: Path) -> None:
    result = _xmargin("clear-halt", str(ROUTE), "--yes", "--forget-above", "1", "--config", str(halted))
    assert result.returncode == 0, result.stderr
    with SignerDb(tmp_path / "signer.db") as db:
        assert db.halted(ROUTE) is None
        assert db.signed(ROUTE, SOURCE, DEST, 1) is not None
        assert db.signed(ROUTE, SOURCE, DEST, 2) is None
        assert db.record(ROUTE, SOURCE, DEST, _signed(2, b"\x33" * 32))  # the re-anchored head may be signed
    assert "no halted route" in _xmargin("halts", "--config", str(halted)).stdout


def test_bad_input_is_one_line(halted: Path, tmp_path: Path) -> None:
    malformed = _xmargin("clear-halt", "deposit:1", "--yes", "--config", str(halted))
    assert malformed.returncode == 1 and "Traceback" not in malformed.stderr and "deposit:1" in malformed.stderr
    other = _xmargin("clear-halt", "withdrawal:31337->31338", "--yes", "--config", str(halted))
    assert other.returncode == 1 and "is not halted" in other.stderr
    bare = tmp_path / "bare"
    bare.mkdir()
    no_validator = _xmargin("halts", "--config", str(_config(bare, with_validator=False)))
    assert no_validator.returncode == 1 and "no validator: section" in no_validator.stderr
