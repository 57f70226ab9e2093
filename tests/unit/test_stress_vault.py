"""bench/stress_vault.py: the LP vault's per-event figures from its observations and deleverages."""

from __future__ import annotations

import pytest

import bench_modules  # noqa: F401
from stress_vault import VaultObservation, VaultTrack, pct


def obs(hour: float, equity: float, price: float, pnl: float, exceeded: bool = False, mm: float = 100.0
        ) -> VaultObservation:
    return VaultObservation(hour, equity, mm, price, pnl, exceeded)


def test_figures_report_start_min_end_share_price_and_traders_pnl() -> None:
    t = VaultTrack(1_000.0)
    for o in (obs(0, 1_000, 1.00, 0), obs(1, 700, 0.70, 300, exceeded=True), obs(2, 900, 0.90, 100)):
        t.observe(o)
    f = t.figures()
    assert (f["vault_equity_start_usd"], f["vault_equity_min_usd"], f["vault_equity_end_usd"]) == (1_000, 700, 900)
    assert f["vault_equity_min_hour"] == 1
    assert f["vault_pnl_usd"] == -100
    assert f["vault_drawdown_pct"] == pytest.approx(30.0)
    assert f["vault_share_price_change_pct"] == pytest.approx(-10.0)
    assert (f["traders_pnl_vs_vault_max_usd"], f["traders_pnl_vs_vault_end_usd"]) == (300, 100)
    assert f["max_pnl_factor_breach_steps"] == 1 and f["max_pnl_factor_first_breach_hour"] == 1
    assert f["vault_below_maintenance_steps"] == 0 and f["vault_needs_deleverage_steps"] == 1
    assert f["deleverages"] == 0


def test_needs_deleverage_below_maintenance_or_over_the_pnl_factor() -> None:
    assert obs(0, 50, 1, 0).needs_deleverage  # equity 50 < MM 100
    assert obs(0, 500, 1, 0, exceeded=True).needs_deleverage
    assert not obs(0, 500, 1, 0).needs_deleverage


def test_deleverages_counted_per_round() -> None:
    t = VaultTrack(1.0)
    t.observe(obs(0, 1, 1, 0))
    t.deleveraged(0.25, 2, still_needed=False)
    t.deleveraged(0.5, 0, still_needed=True)
    f = t.figures()
    assert t.adl_hours == [0.25, 0.25]
    assert f["deleverages"] == 2 and f["adl_rounds_still_needed"] == 1
    assert f["max_pnl_factor_first_breach_hour"] is None


def test_no_observation_is_an_error_and_pct_of_zero_is_zero() -> None:
    with pytest.raises(ValueError):
        VaultTrack(1.0).figures()
    assert pct(5, 0) == 0.0
