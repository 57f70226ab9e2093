"""Crash replay a risk reviewer can check: the historical crashes (shared/data/crashes), their
mirrored squeezes and the largest real rally of the daily data, replayed on a REAL anvil chain
against a drawn book (mixed USDC/ETH/BTC collateral from two spokes, fat-tailed leverage, positions
opened over the days before) and the LP vault as counterparty (an LP deposits --vault-to-oi x the
book's gross notional; the keeper auto-deleverages while the vault needs it), with bridged intrabar
paths, keepers with latency, gas, a block gas limit, finite balances and a constant-product exit
pool, ten seeds per event, insurance sized leave one event out, per-event figures. Writes
bench/results/stress/ (JSON and PNGs).

    .venv/bin/python bench/stress.py                    # the whole study (docs/margin.md)
    .venv/bin/python bench/stress.py --quick            # CI: one event, one seed, asserts the identities

Requires `brownie compile` first (ABIs and bytecode come from build/contracts)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _stress_event import Knobs, Scenario, run  # noqa: E402

from relayer.keeper.pusher import crash_dir, load_path  # noqa: E402
from relayer.margin.params import Calibration, LiquidationParams  # noqa: E402

from _stress_chain import E18, MAX_MOVE_BPS, Chain, deploy_system  # noqa: E402
from stress_book import BookParams  # noqa: E402
from stress_keepers import DEFAULT_GAS_GWEI, GAS_GWEI  # noqa: E402
from stress_paths import Bar, align, bridge, closes_only, largest_rally, max_step_move, mirror, mirror_bar  # noqa: E402
from stress_stats import BUFFER, GOAL, RunFigures, in_sample_fund_share, leave_one_out, passes, summarise  # noqa: E402

CRASHES = crash_dir()
"""../shared/data/crashes beside the repository ($XMARGIN_CRASH_DATA overrides it)."""
CRASH_EVENTS = ["2020-03-12", "2021-05-19", "2022-06-13", "2022-11-08", "2024-08-05"]
ALL_EVENTS = CRASH_EVENTS + [f"squeeze-{e}" for e in CRASH_EVENTS] + ["rally"]
HOUR = 3_600
DAY = 86_400


def bars(path: Path) -> list[Bar]:
    return [Bar(p.timestamp, p.open, p.high, p.low, p.close) for p in load_path(path)]


def daily() -> tuple[list[Bar], list[Bar]]:
    return align(bars(CRASHES / "eth_daily.csv"), bars(CRASHES / "btc_daily.csv"))


def days_before(series: list[Bar], first_t: str, n: int) -> list[Bar]:
    day = first_t[:10] + "T00:00:00Z"
    i = next(j for j, b in enumerate(series) if b.t == day)
    return series[i - n:i]


def around_trough(e: list[Bar], b: list[Bar], hours: int) -> tuple[list[Bar], list[Bar]]:
    """`hours` bars ending 6 hours after ETH's lowest low (the --quick window); all bars if 0."""
    if not hours or hours >= len(e):
        return e, b
    end = min(len(e), min(range(len(e)), key=lambda i: e[i].low) + 7)
    start = max(0, end - hours)
    return e[start:end], b[start:end]


def scenario(name: str, n_before: int, closes: bool = False, hours: int = 0) -> Scenario:
    """An event by name: a crash date, squeeze-<date> (the crash mirrored) or rally; `hours` keeps
    only that many hourly bars around the trough."""
    de, db = daily()
    if name == "rally":
        i = largest_rally(de, db, 7, "2017-12-01")
        e, b = de[i:i + 10], db[i:i + 10]
        steps = closes_only(e, b, DAY) if closes else bridge(e, b, "squeeze", DAY)
        return Scenario(f"rally-{e[0].t[:10]}", True, de[i - n_before:i], db[i - n_before:i], steps, DEFAULT_GAS_GWEI,
                        DAY if closes else DAY // 4)
    date = name.removeprefix("squeeze-")
    e, b = around_trough(bars(CRASHES / f"eth_{date}_1h.csv"), bars(CRASHES / f"btc_{date}_1h.csv"), hours)
    be, bb = days_before(de, e[0].t, n_before), days_before(db, b[0].t, n_before)
    squeeze = name.startswith("squeeze-")
    if squeeze:
        se, sb = e[0].open, b[0].open
        e, b = mirror(e), mirror(b)
        be, bb = [mirror_bar(x, se) for x in be], [mirror_bar(x, sb) for x in bb]
    steps = closes_only(e, b, HOUR) if closes else bridge(e, b, "squeeze" if squeeze else "crash", HOUR)
    return Scenario(name, squeeze, be, bb, steps, GAS_GWEI.get(date, DEFAULT_GAS_GWEI), HOUR if closes else HOUR // 4)


def figures_of(f: dict[str, Any]) -> RunFigures:
    need = f["insurance_used_usd"] + f["socialised_usd"] + f["bad_debt_written_off_usd"]
    return RunFigures(f["event"], f["seed"], f["open_interest_usd"], need, f["insurance_penalties_usd"],
                      f["backstop_sale_loss_usd"])


def check_identities(f: dict[str, Any]) -> list[str]:
    """The ledger's identity (sum of every USD balance — traders, keepers, the LP vault's account, the
    LP, the insurance fund — == bad debt) and no account left liquidatable."""
    errors = []
    if f["sum_usd_balances_wei"] != f["ledger_bad_debt_wei"]:
        errors.append(f"{f['event']} seed {f['seed']}: sum of USD balances {f['sum_usd_balances_wei']} "
                      f"!= bad debt {f['ledger_bad_debt_wei']}")
    if f["left_liquidatable"]:
        errors.append(f"{f['event']} seed {f['seed']}: {f['left_liquidatable']} accounts left liquidatable")
    return errors


def liquidation_params(cfg: argparse.Namespace) -> LiquidationParams:
    """The deployment's liquidation parameters, with `--close-factor` if given (a mechanism probe)."""
    if cfg.close_factor is None:
        return LiquidationParams()
    return LiquidationParams(close_factor=round(cfg.close_factor * E18))


def study(ch: Chain, cfg: argparse.Namespace, leverage: float, out_dir: Path) -> dict[str, Any]:
    """Every event x seed at one max leverage; figures, statistics, pictures."""
    knobs = Knobs(
        book=BookParams(accounts=cfg.accounts, max_leverage=leverage, days_before=cfg.days_before,
                        long_share=cfg.long_share),
        cal=Calibration(max_leverage=leverage), liq=liquidation_params(cfg),
        keeper_latency_blocks=tuple(cfg.keeper_latency), keeper_balance_usd=cfg.keeper_balance,
        vault_to_oi=cfg.vault_to_oi, depth_scale=cfg.depth_scale,
    )
    runs: list[dict[str, Any]] = []
    compare: dict[str, dict[str, float]] = {}
    # seed-major: every event with seed 1, then seed 2, ...; the hourly-closes column last. A study
    # stopped at a deadline then holds whole seeds across every event (runs-<lev>x.jsonl).
    passes_ = [(seed, False) for seed in range(1, cfg.seeds + 1)] + ([(1, True)] if cfg.compare_closes else [])
    scenarios: dict[tuple[str, bool], Scenario] = {}
    for seed, closes in passes_:
        for name in cfg.events:
            if (name, closes) not in scenarios:
                scenarios[name, closes] = scenario(name, cfg.days_before, closes, cfg.hours)
            s = scenarios[name, closes]
            ch.fresh()  # every run (and every leverage) starts from the state right after deployment
            t0 = time.monotonic()
            o = run(ch, s, seed, knobs)
            f = o.figures
            f.update(seconds=round(time.monotonic() - t0, 1), max_step_move=max_step_move(s.steps),
                     path="closes" if closes else "bridged", accounts=cfg.accounts)
            print(f"{leverage:g}x {s.name} seed {seed} {f['path']}: OI ${f['open_interest_usd']:,.0f} "
                  f"liq {f['liquidations']} insurance ${f['insurance_used_usd']:,.0f} backstop "
                  f"${f['backstop_sale_loss_usd']:,.0f} vault ${f['vault_equity_start_usd']:,.0f} -> min "
                  f"${f['vault_equity_min_usd']:,.0f} -> ${f['vault_equity_end_usd']:,.0f} (share price "
                  f"{f['vault_share_price_change_pct']:+.2f} %, ADL {f['deleverages']}) [{f['seconds']} s, "
                  f"opening {f['seconds_opening']} s, {f['steps']} steps]", flush=True)
            with (out_dir / f"runs-{leverage:g}x.jsonl").open("a") as fh:  # partial results survive a kill
                fh.write(json.dumps(f, default=str) + "\n")
            if closes:
                compare[s.name] = {"closes_need_usd": figures_of(f).need_usd}
                continue
            runs.append(f)
            if seed == 1:
                _picture(s.name, leverage, o.series, out_dir)
    rf = [figures_of(f) for f in runs]
    per_event = {}
    for name in sorted({r.event for r in rf}):
        mine = [r for r in rf if r.event == name]
        fs = [f for f in runs if f["event"] == name]
        per_event[name] = {
            "seeds": len(mine),
            "need_usd": asdict(summarise([r.need_usd for r in mine])),
            "net_need_usd": asdict(summarise([r.net_need_usd for r in mine])),
            "need_pct_oi": asdict(summarise([100 * r.need_share for r in mine])),
            "vault_pnl_usd": asdict(summarise([f["vault_pnl_usd"] for f in fs])),
            "vault_drawdown_pct": asdict(summarise([f["vault_drawdown_pct"] for f in fs])),
            "vault_share_price_change_pct": asdict(summarise([f["vault_share_price_change_pct"] for f in fs])),
            "traders_pnl_vs_vault_max_usd": asdict(summarise([f["traders_pnl_vs_vault_max_usd"] for f in fs])),
            "max_pnl_factor_breach_steps": asdict(summarise([float(f["max_pnl_factor_breach_steps"]) for f in fs])),
            "deleverages": asdict(summarise([float(f["deleverages"]) for f in fs])),
            "liquidations": asdict(summarise([float(f["liquidations"]) for f in fs])),
            "pending_at_path_end_usd": asdict(summarise([f["pending_deficit_at_path_end_usd"] for f in fs])),
            **compare.get(name, {}),
        }
    result: dict[str, Any] = {"max_leverage": leverage, "events": per_event, "runs": runs}
    if len(per_event) >= 2:
        gross, net = leave_one_out(rf), leave_one_out(rf, net=True)
        buffered = leave_one_out(rf, buffer=BUFFER, cap=GOAL)
        result.update(held_out_gross=[asdict(h) for h in gross], held_out_net=[asdict(h) for h in net],
                      held_out_buffered=[asdict(h) for h in buffered], passes_2pct=passes(gross, GOAL),
                      passes_2pct_buffered=passes(buffered, GOAL), in_sample_fund_pct_oi=100 * in_sample_fund_share(rf))
    return result


def _picture(name: str, leverage: float, series: Any, out_dir: Path) -> None:
    from stress_plot import available, close, figure

    if not available():
        print("matplotlib missing (pip install -r requirements/bench.txt): no picture", file=sys.stderr)
        return  # (the series JSON is written with the picture: `python bench/stress_plot.py series-*.json` redraws)
    title = f"{name}, max leverage {leverage:g}x, seed 1"
    (out_dir / f"series-{name}-{leverage:g}x.json").write_text(json.dumps({"title": title, **asdict(series)}))
    fig = figure(title, series)
    fig.savefig(out_dir / f"{name}-{leverage:g}x.png")
    close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="CI: one event, one seed, 40 accounts, asserts")
    ap.add_argument("--events", nargs="*", default=ALL_EVENTS)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--accounts", type=int, default=300)
    ap.add_argument("--leverage", type=float, nargs="*", default=[3.0, 4.0, 5.0],
                    help="candidate maximum leverages (7.5x and 10x fail on price gaps alone: docs/margin.md)")
    ap.add_argument("--days-before", type=int, default=10)
    ap.add_argument("--hours", type=int, default=0, help="only this many hourly bars around the trough (0: all)")
    ap.add_argument("--keeper-latency", type=int, nargs="*", default=[1, 3], help="blocks, one per keeper")
    ap.add_argument("--keeper-balance", type=float, default=2_000_000)
    ap.add_argument("--vault-to-oi", type=float, default=0.5, help="the LP's vault deposit / the book's gross notional")
    ap.add_argument("--long-share", type=float, default=0.6,
                    help="share of positions long in crashes (1 - it in squeezes); below 0.5 the book wins")
    ap.add_argument("--depth-scale", type=float, default=1.0, help="multiplies every exit pool's depth")
    ap.add_argument("--close-factor", type=float, default=None,
                    help="share of a position a partial liquidation closes (a probe: the deployment's is 0.5)")
    ap.add_argument("--max-move-bps", type=int, default=MAX_MOVE_BPS,
                    help="the oracle's bound on one round's move (a mechanism probe: the deployment's is 3,000)")
    ap.add_argument("--no-compare-closes", dest="compare_closes", action="store_false")
    ap.add_argument("--port", type=int, default=8770)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "stress")
    cfg = ap.parse_args()
    if cfg.quick:
        cfg.events, cfg.seeds, cfg.accounts, cfg.leverage, cfg.days_before = ["2024-08-05"], 1, 40, [5.0], 3
        cfg.hours = 24
        cfg.compare_closes = False
    cfg.out.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` stops anvil on a kill
    ch = Chain(cfg.port, 30_000_000 * 100)  # the node's limit fits a step's blocks; stress_keepers caps per block
    errors: list[str] = []
    try:
        deploy_system(ch, Calibration(), liquidation_params(cfg), cfg.max_move_bps)
        ch.fresh()
        results = []
        for lev in cfg.leverage:
            r = study(ch, cfg, lev, cfg.out)
            results.append(r)
            for f in r["runs"]:
                errors += check_identities(f)
            (cfg.out / f"stress-{lev:g}x.json").write_text(json.dumps(r, indent=2, default=str))
        summary = {"config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(cfg).items()},
                   "calibration": [{k: r.get(k) for k in ("max_leverage", "passes_2pct", "passes_2pct_buffered",
                                                          "in_sample_fund_pct_oi", "held_out_gross",
                                                          "held_out_net", "held_out_buffered")} for r in results],
                   "identity_errors": errors}
        (cfg.out / "stress.json").write_text(json.dumps(summary, indent=2, default=str))
        print(f"wrote {cfg.out}")
    finally:
        ch.close()
    if errors:
        print("\n".join(errors), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
