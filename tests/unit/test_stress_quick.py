"""bench/stress.py --quick on a real anvil: one event (24 bridged hours around the 5 August 2024
trough), one seed, 40 accounts with mixed collateral, the LP vault as counterparty. The bench itself
exits 1 unless the ledger's identity holds (the sum of every USD balance — traders, keepers, the LP
vault's account, the LP, the insurance fund — equals the recorded bad debt) and no account is left
liquidatable; this test also reads the figures back, the vault's among them."""

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


def bench(out: Path, *args: str) -> None:
    """Runs bench/stress.py on its own anvil; it exits 1 when the identity or the end state fails."""
    if not ANVIL.exists() or not (REPO / "build" / "contracts" / "LPVault.json").exists():
        pytest.skip("needs the anvil binary and `brownie compile`")
    if not (crash_dir() / "eth_daily.csv").exists():
        pytest.skip(f"crash data not found at {crash_dir()} (set XMARGIN_CRASH_DATA)")
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "stress.py"), *args, "--port", str(fixed_port(8790)), "--out", str(out)],
        capture_output=True, text=True, timeout=QUICK_TIMEOUT_S, env=os.environ.copy(), check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_quick_stress_keeps_the_ledger_identity_and_leaves_nothing_liquidatable(tmp_path: Path) -> None:
    out = tmp_path / "stress"
    bench(out, "--quick")
    summary = json.loads((out / "stress.json").read_text())
    assert summary["identity_errors"] == []
    runs = json.loads((out / "stress-5x.json").read_text())["runs"]
    assert len(runs) == 1
    run = runs[0]
    assert run["sum_usd_balances_wei"] == run["ledger_bad_debt_wei"]
    assert run["left_liquidatable"] == 0
    assert run["opened"] > 0 and run["open_interest_usd"] > 0
    # the counterparty is the LP vault, funded through LPVault.deposit at 0.5 x the gross notional
    assert run["vault_shares_lp"] > 0
    assert run["vault_deposit_usd"] == pytest.approx(0.5 * run["gross_book_usd"])
    assert run["vault_equity_start_usd"] > 0.9 * run["vault_deposit_usd"]  # fees and open PnL move it a little
    assert run["vault_equity_min_usd"] <= min(run["vault_equity_start_usd"], run["vault_equity_end_usd"])
    assert run["vault_pnl_usd"] == pytest.approx(run["vault_equity_end_usd"] - run["vault_equity_start_usd"])
    assert run["vault_share_price_start_usd"] > 0 and "vault_share_price_change_pct" in run
    assert run["deleverages"] >= 0 and run["max_pnl_factor_breach_steps"] >= 0
    assert run["vault_usd_wei"] != 0  # the vault's USD (trades, fees) is in the identity that held
    if importlib.util.find_spec("matplotlib") is not None:
        assert (out / "2024-08-05-5x.png").stat().st_size > 0


def test_a_book_that_wins_is_deleveraged_against_the_vault_and_the_identity_holds(tmp_path: Path) -> None:
    """March 2020 against a book 90 % short at 10x, the vault at 0.3 x gross notional: traders' open
    profit passes the max-PnL factor, the keeper's ADL loop closes winners through the
    AutoDeleverager, the vault loses but stays positive, the identity holds with it."""
    out = tmp_path / "stress"
    bench(out, "--events", "2020-03-12", "--leverage", "10", "--seeds", "1", "--accounts", "40", "--hours", "24",
          "--days-before", "3", "--no-compare-closes", "--long-share", "0.1", "--vault-to-oi", "0.3")
    run = json.loads((out / "stress-10x.json").read_text())["runs"][0]
    assert run["sum_usd_balances_wei"] == run["ledger_bad_debt_wei"]
    assert run["left_liquidatable"] == 0
    assert run["max_pnl_factor_breach_steps"] > 0
    assert run["deleverages"] > 0 and run["adl_closed_notional_usd"] > 0 and run["adl_profit_realised_usd"] > 0
    assert run["vault_pnl_usd"] < 0 and run["vault_share_price_change_pct"] < 0
    assert run["vault_equity_min_usd"] > 0
