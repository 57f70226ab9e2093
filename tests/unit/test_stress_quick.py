"""bench/stress.py --quick on a real anvil: one event (24 bridged hours around the 5 August 2024
trough), one seed, 40 accounts with mixed collateral. The bench itself exits 1 unless the ledger's
identity holds (the sum of every USD balance, counterparty and insurance fund included, equals the
recorded bad debt) and no account is left liquidatable; this test also reads the figures back."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from relayer.keeper.pusher import crash_dir

from local_services import ANVIL, REPO, fixed_port

QUICK_TIMEOUT_S = 900
"""Under 3 minutes on an idle 2-core machine is the aim; the timeout leaves room for a loaded one."""


def test_quick_stress_keeps_the_ledger_identity_and_leaves_nothing_liquidatable(tmp_path: Path) -> None:
    if not ANVIL.exists() or not (REPO / "build" / "contracts" / "MarginLens.json").exists():
        pytest.skip("needs the anvil binary and `brownie compile`")
    if not (crash_dir() / "eth_daily.csv").exists():
        pytest.skip(f"crash data not found at {crash_dir()} (set XMARGIN_CRASH_DATA)")
    out = tmp_path / "stress"
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "stress.py"), "--quick", "--port", str(fixed_port(8790)),
         "--out", str(out)],
        capture_output=True, text=True, timeout=QUICK_TIMEOUT_S, env=os.environ.copy(), check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "stress.json").read_text())
    assert summary["identity_errors"] == []
    runs = json.loads((out / "stress-5x.json").read_text())["runs"]
    assert len(runs) == 1
    run = runs[0]
    assert run["sum_usd_balances_wei"] == run["ledger_bad_debt_wei"]
    assert run["left_liquidatable"] == 0
    assert run["opened"] > 0 and run["open_interest_usd"] > 0
    if importlib.util.find_spec("matplotlib") is not None:
        assert (out / "2024-08-05-5x.png").stat().st_size > 0
