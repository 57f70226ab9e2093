"""Markdown tables of the crash replay's runs (pure): per event and leverage, the LP vault per
event, and the leave-one-event-out calibration. `python bench/stress_report.py runs-5x.jsonl runs-10x.jsonl`
prints them (the only I/O, in main)."""

from __future__ import annotations

import json
import sys
from typing import Any

from stress_stats import RunFigures, leave_one_out, passes


def figures(f: dict[str, Any]) -> RunFigures:
    """What the fund must stand behind in one run (see bench/stress.py figures_of)."""
    need = f["insurance_used_usd"] + f["socialised_usd"] + f["bad_debt_written_off_usd"]
    return RunFigures(f["event"], f["seed"], f["open_interest_usd"], need, f["insurance_penalties_usd"],
                      f["backstop_sale_loss_usd"])


def event_table(runs: list[tuple[float, dict[str, Any]]]) -> str:
    """One row per (leverage, event, seed)."""
    head = ("| max lev | event | seed | OI at start | opened / refused | liquidations | sales cut by slippage | "
            "unprofitable skips | fund need (gross) | % OI | net of penalties | deficit left at path end | "
            "vault PnL | Σ USD = bad debt | left liquidatable |\n|" + "---|" * 15)
    rows = []
    for lev, f in runs:
        r = figures(f)
        rows.append(
            f"| {lev:g}x | {f['event']} | {f['seed']} | ${f['open_interest_usd']:,.0f} | {f['opened']} / "
            f"{f['refused_by_margin']} | {f['liquidations']} | {f['sales_limited_by_slippage']} | "
            f"{f['unprofitable_skips']} | ${r.need_usd:,.0f} | {100 * r.need_share:.2f} % | "
            f"${r.net_need_usd:,.0f} | ${f['pending_deficit_at_path_end_usd']:,.0f} | ${f['vault_pnl_usd']:,.0f} | "
            f"{'yes' if f['sum_usd_balances_wei'] == f['ledger_bad_debt_wei'] else 'NO'} | {f['left_liquidatable']} |")
    return "\n".join([head, *rows])


def vault_table(runs: list[tuple[float, dict[str, Any]]]) -> str:
    """The LP vault per (leverage, event, seed): equity, share price, traders' PnL against it, the
    max-PnL factor and the keeper's auto-deleverages."""
    head = ("| max lev | event | seed | vault deposit (× gross notional) | equity start | min (hour) | end | "
            "share price Δ | traders' open PnL vs vault, max / end | max-PnL-factor breach (steps) | "
            "below MM (steps) | deleverages (notional, profit realised) |\n|" + "---|" * 12)
    rows = []
    for lev, f in runs:
        rows.append(
            f"| {lev:g}x | {f['event']} | {f['seed']} | ${f['vault_deposit_usd']:,.0f} ({f['vault_to_oi']:g}) | "
            f"${f['vault_equity_start_usd']:,.0f} | ${f['vault_equity_min_usd']:,.0f} "
            f"(h {f['vault_equity_min_hour']:.2f}) | ${f['vault_equity_end_usd']:,.0f} | "
            f"{f['vault_share_price_change_pct']:+.2f} % | ${f['traders_pnl_vs_vault_max_usd']:,.0f} / "
            f"${f['traders_pnl_vs_vault_end_usd']:,.0f} | {f['max_pnl_factor_breach_steps']} | "
            f"{f['vault_below_maintenance_steps']} | {f['deleverages']} (${f['adl_closed_notional_usd']:,.0f}, "
            f"${f['adl_profit_realised_usd']:,.0f}) |")
    return "\n".join([head, *rows])


def calibration_table(by_lev: dict[float, list[dict[str, Any]]]) -> str:
    """Leave-one-event-out fund share and bad debt beyond it, per leverage and held-out event."""
    head = ("| max lev | held-out event | fund sized on the others (% OI, gross) | beyond the fund, worst | "
            "fund (% OI, net) | beyond, net | passes (every event covered, fund ≤ 2 % OI) |\n|" + "---|" * 7)
    rows = []
    for lev, fs in sorted(by_lev.items()):
        rf = [figures(f) for f in fs]
        if len({r.event for r in rf}) < 2:
            continue
        gross, net = leave_one_out(rf), {h.event: h for h in leave_one_out(rf, net=True)}
        ok = passes(gross)
        for h in gross:
            n = net[h.event]
            rows.append(f"| {lev:g}x | {h.event} | {100 * h.fund_share:.2f} % | ${h.beyond_worst_usd:,.0f} | "
                        f"{100 * n.fund_share:.2f} % | ${n.beyond_worst_usd:,.0f} | {'yes' if ok else 'no'} |")
    return "\n".join([head, *rows])


def main() -> None:
    by_lev: dict[float, list[dict[str, Any]]] = {}
    for path in sys.argv[1:]:
        lev = float(path.rsplit("runs-", 1)[1].removesuffix("x.jsonl"))
        with open(path) as fh:
            by_lev.setdefault(lev, []).extend(json.loads(line) for line in fh if line.strip())
    runs = [(lev, f) for lev in sorted(by_lev) for f in by_lev[lev] if f.get("path", "bridged") == "bridged"]
    print(event_table(runs))
    print()
    print(vault_table([r for r in runs if "vault_equity_min_usd" in r[1]]))  # runs from before the vault have none
    print()
    print(calibration_table({lev: [f for lv, f in runs if lv == lev] for lev in by_lev}))


if __name__ == "__main__":
    main()
