"""Markdown tables of the crash replay's runs (pure): per run, the LP vault per run, per event across
seeds, and the leave-one-event-out calibration. `python bench/stress_report.py [--summary]
runs-5x.jsonl runs-10x.jsonl` prints them (the only I/O, in main)."""

from __future__ import annotations

import json
import sys
from typing import Any

from stress_stats import BUFFER, GOAL, RunFigures, leave_one_out, passes


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


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else 0.0


def summary_table(runs: list[tuple[float, dict[str, Any]]], closes: list[tuple[float, dict[str, Any]]]) -> str:
    """One row per (leverage, event) across its seeds: the fund's need as % of OI (mean / worst,
    gross and net), what the keepers met (liquidations, sales cut by slippage, liquidations not
    worth their gas, oracle steps with a price refused), the deficit left at the path's end and the
    backstop's loss (worst), the vault's share price, and the hourly-closes column's need."""
    head = ("| max lev | event | seeds | OI at start, mean | fund need % OI, mean / worst | net of penalties, worst | "
            "liquidations, mean | sales cut by slippage, mean | not worth the gas (account-steps), mean | "
            "steps with a price refused, max | deficit at path end, worst | backstop loss, worst | "
            "vault share price Δ, mean / worst | hourly closes: need % OI (seed 1) |\n|" + "---|" * 14)
    rows = []
    for lev in sorted({lv for lv, _ in runs}):
        for event in sorted({f["event"] for lv, f in runs if lv == lev}):
            fs = [f for lv, f in runs if lv == lev and f["event"] == event]
            rf = [figures(f) for f in fs]
            shares = [100 * r.need_share for r in rf]
            net = [100 * r.net_need_share for r in rf]
            sp = [f["vault_share_price_change_pct"] for f in fs]
            col = [figures(f) for lv, f in closes if lv == lev and f["event"] == event]
            rows.append(
                f"| {lev:g}x | {event} | {len(fs)} | ${_mean([f['open_interest_usd'] for f in fs]):,.0f} | "
                f"{_mean(shares):.2f} % / {max(shares):.2f} % | {max(net):.2f} % | "
                f"{_mean([f['liquidations'] for f in fs]):.1f} | "
                f"{_mean([f['sales_limited_by_slippage'] for f in fs]):.1f} | "
                f"{_mean([f['unprofitable_skips'] for f in fs]):.1f} | "
                f"{max(f.get('steps_prices_not_ok', 0) for f in fs)} | "
                f"${max(f['pending_deficit_at_path_end_usd'] for f in fs):,.0f} | "
                f"${max(f['backstop_sale_loss_usd'] for f in fs):,.0f} | {_mean(sp):+.2f} % / {min(sp):+.2f} % | "
                f"{f'{100 * col[0].need_share:.2f} %' if col else '—'} |")
    return "\n".join([head, *rows])


def calibration_table(by_lev: dict[float, list[dict[str, Any]]]) -> str:
    """Leave-one-event-out fund share and bad debt beyond it, per leverage and held-out event: the bare
    rule (the others' worst need) and the buffered one (BUFFER x that, capped at GOAL)."""
    head = ("| max lev | held-out event | fund sized on the others (% OI, gross) | beyond the fund, worst | "
            "fund (% OI, net) | beyond, net | passes (every event covered, fund ≤ 2 % OI) | "
            f"fund {BUFFER:g}x, ≤ 2 % (% OI) | beyond it, worst | passes, {BUFFER:g}x |\n|" + "---|" * 10)
    rows = []
    for lev, fs in sorted(by_lev.items()):
        rf = [figures(f) for f in fs]
        if len({r.event for r in rf}) < 2:
            continue
        gross, net = leave_one_out(rf), {h.event: h for h in leave_one_out(rf, net=True)}
        buffered = {h.event: h for h in leave_one_out(rf, buffer=BUFFER, cap=GOAL)}
        ok, ok_buffered = passes(gross, GOAL), passes(list(buffered.values()), GOAL)
        for h in gross:
            n, b = net[h.event], buffered[h.event]
            rows.append(f"| {lev:g}x | {h.event} | {100 * h.fund_share:.2f} % | ${h.beyond_worst_usd:,.0f} | "
                        f"{100 * n.fund_share:.2f} % | ${n.beyond_worst_usd:,.0f} | {'yes' if ok else 'no'} | "
                        f"{100 * b.fund_share:.2f} % | ${b.beyond_worst_usd:,.0f} | {'yes' if ok_buffered else 'no'} |")
    return "\n".join([head, *rows])


def unique(fs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The first run of each (event, seed, path): a study split over processes may hold one twice."""
    seen: set[tuple[str, int, str]] = set()
    out = []
    for f in fs:
        key = (f["event"], f["seed"], f.get("path", "bridged"))
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def main() -> None:
    """Prints the tables of the runs-<lev>x.jsonl files given; with --summary first, only the
    per-event summary and the calibration (the per-run tables of a 10-seed study are long)."""
    args = sys.argv[1:]
    summary_only = bool(args) and args[0] == "--summary"
    by_lev: dict[float, list[dict[str, Any]]] = {}
    for path in args[1:] if summary_only else args:
        lev = float(path.rsplit("runs-", 1)[1].removesuffix("x.jsonl"))
        with open(path) as fh:
            by_lev.setdefault(lev, []).extend(json.loads(line) for line in fh if line.strip())
    for lev, fs in by_lev.items():
        by_lev[lev] = unique(fs)
    runs = [(lev, f) for lev in sorted(by_lev) for f in by_lev[lev] if f.get("path", "bridged") == "bridged"]
    closes = [(lev, f) for lev in sorted(by_lev) for f in by_lev[lev] if f.get("path") == "closes"]
    if summary_only:
        print(summary_table(runs, closes))
        print()
        print(calibration_table({lev: [f for lv, f in runs if lv == lev] for lev in by_lev}))
        return
    print(event_table(runs))
    print()
    print(vault_table([r for r in runs if "vault_equity_min_usd" in r[1]]))  # runs from before the vault have none
    print()
    print(calibration_table({lev: [f for lv, f in runs if lv == lev] for lev in by_lev}))


if __name__ == "__main__":
    main()
