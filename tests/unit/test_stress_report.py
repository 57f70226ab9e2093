"""bench/stress_report.py: the markdown tables of docs/margin.md from run figures."""

from __future__ import annotations

from typing import Any

import bench_modules  # noqa: F401
from stress_report import calibration_table, event_table, summary_table, unique, vault_table


def fig(event: str, oi: float, need: float) -> dict[str, Any]:
    return {"event": event, "seed": 1, "open_interest_usd": oi, "insurance_used_usd": need, "socialised_usd": 0.0,
            "bad_debt_written_off_usd": 0.0, "insurance_penalties_usd": 1.0, "backstop_sale_loss_usd": 0.0,
            "opened": 10, "refused_by_margin": 0, "liquidations": 3, "sales_limited_by_slippage": 1,
            "unprofitable_skips": 0, "pending_deficit_at_path_end_usd": 0.0, "vault_pnl_usd": 5.0,
            "sum_usd_balances_wei": 0, "ledger_bad_debt_wei": 0, "left_liquidatable": 0,
            "vault_deposit_usd": 500.0, "vault_to_oi": 0.5, "vault_equity_start_usd": 500.0,
            "vault_equity_min_usd": 400.0, "vault_equity_min_hour": 1.5, "vault_equity_end_usd": 505.0,
            "vault_share_price_change_pct": 1.0, "traders_pnl_vs_vault_max_usd": 120.0,
            "traders_pnl_vs_vault_end_usd": -3.0, "max_pnl_factor_breach_steps": 2,
            "vault_below_maintenance_steps": 0, "deleverages": 1, "adl_closed_notional_usd": 300.0,
            "adl_profit_realised_usd": 60.0}


def test_event_rows_carry_need_share_and_identity() -> None:
    t = event_table([(5.0, fig("a", 1_000, 10))])
    assert "| 5x | a | 1 | $1,000 |" in t and "1.00 %" in t and "| yes | 0 |" in t


def test_vault_rows_carry_equity_share_price_and_deleverages() -> None:
    t = vault_table([(5.0, fig("a", 1_000, 10))])
    assert "| 5x | a | 1 | $500 (0.5) | $500 | $400 (h 1.50) | $505 | +1.00 % | $120 / $-3 | 2 | 0 |" in t
    assert t.rstrip().endswith("| 1 ($300, $60) |")


def test_calibration_rows_hold_each_event_out() -> None:
    t = calibration_table({10.0: [fig("a", 1_000, 10), fig("b", 1_000, 30)]})
    assert "| 10x | a | 3.00 % | $0 |" in t
    assert "| 10x | b | 1.00 % | $20 |" in t and "| $20 | 0.90 % | $20 | no | 2.00 % | $10 | no |" in t
    assert "| 10x | a | 3.00 % | $0 | 2.90 % | $0 | no | 2.00 % | $0 | no |" in t  # 2 x 3 % capped at 2 %
    near = calibration_table({3.0: [fig("a", 1_000, 10), fig("b", 1_000, 15)]})
    assert "| 3x | b | 1.00 % | $5 |" in near and near.rstrip().endswith("| 2.00 % | $0 | yes |")


def test_summary_rows_span_the_seeds_and_carry_the_closes_column() -> None:
    a1, a2 = fig("a", 1_000, 10), {**fig("a", 1_000, 30), "seed": 2, "steps_prices_not_ok": 4}
    t = summary_table([(10.0, a1), (10.0, a2)], [(10.0, {**fig("a", 1_000, 5), "path": "closes"})])
    assert "| 10x | a | 2 | $1,000 | 2.00 % / 3.00 % | 2.90 % |" in t
    assert "| 4 | $0 | $0 |" in t and t.rstrip().endswith("| 0.50 % |")


def test_a_run_held_twice_by_split_processes_counts_once() -> None:
    a, b = fig("a", 1_000, 10), fig("b", 1_000, 30)
    assert unique([a, b, {**a, "insurance_used_usd": 99.0}, {**a, "seed": 2}]) == [a, b, {**a, "seed": 2}]
