"""Where a margin transaction's gas goes (issue 10): replays bench/margin_gas.py's two-market
scenarios on a real anvil and prints the call tree of one transaction from anvil's
`debug_traceTransaction` (callTracer): each call's gas (its callees included), contract and
function, plus totals per (contract, function) over the whole tree.

`.venv/bin/python bench/margin_gas_trace.py [partial|full|settle] [--depth N] [--synced | --steady]`
(after `brownie compile`; anvil on `XMARGIN_BENCH_BASE_PORT` + 42). Nothing is asserted: it is a
reading aid for docs/margin.md "Gas"."""

from __future__ import annotations

import argparse
import os
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from eth_utils import keccak  # noqa: E402
from margin_gas import BIG_GAS, Bench, _keeper, _shock_until_liquidatable  # noqa: E402
from margin_gas_steady import _steady  # noqa: E402

from relayer.chain.abi import load_artifact  # noqa: E402

from _stress_chain import MAX_UINT, account  # noqa: E402
from gas_floor import STATE_KINDS, Breakdown  # noqa: E402

ARTIFACTS = ("MarginLedger", "PriceOracle", "RiskEngine", "PerpMarket", "LiquidationModule", "LPVault",
             "MockAggregatorV3", "Settlement", "MarginLens")


def _selectors() -> dict[str, str]:
    out: dict[str, str] = {}
    for name in ARTIFACTS:
        try:
            abi = load_artifact(name).abi
        except Exception:  # noqa: BLE001 - an artifact this build lacks is simply not named
            continue
        for f in abi:
            if f.get("type") == "function":
                sig = f"{f['name']}({','.join(i['type'] for i in f['inputs'])})"
                out["0x" + keccak(text=sig)[:4].hex()] = f["name"]
    return out


def _walk(node: dict[str, Any], depth: int, names: dict[str, str], sels: dict[str, str], max_depth: int,
          totals: dict[tuple[str, str], list[int]]) -> None:
    to = names.get(str(node.get("to", "")).lower(), str(node.get("to", ""))[:10])
    fn = sels.get(str(node.get("input", ""))[:10], str(node.get("input", ""))[:10])
    gas = int(node.get("gasUsed", "0x0"), 16)
    totals[(to, fn)][0] += 1
    totals[(to, fn)][1] += gas
    if depth <= max_depth:
        print(f"{'  ' * depth}{gas:>9,}  {to}.{fn}")
    for child in node.get("calls", []) or []:
        _walk(child, depth + 1, names, sels, max_depth, totals)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("partial", "full", "settle"), nargs="?", default="partial")
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--synced", action="store_true", help="syncFeed every feed first (the keeper's round)")
    parser.add_argument("--steady", action="store_true",
                        help="the steady-state row of margin_gas.py (feeds synced, seasoned market, USD held)")
    parser.add_argument("--signed", action="store_true",
                        help="signed-report feeds instead of aggregators (bench/_signed_feeds.py)")
    parser.add_argument("--opcodes", action="store_true",
                        help="also the gas by kind of work, from the opcode trace (bench/gas_floor.py)")
    args = parser.parse_args(argv)
    b = Bench(int(os.environ.get("XMARGIN_BENCH_BASE_PORT", "15500")) + 42, signed=args.signed,
              anvil_args=("--steps-tracing",) if args.opcodes else ())
    try:
        ch = b.ch
        if args.steady:
            row = {"partial": "liquidate: partial", "full": "liquidate: full", "settle": "settleOrder"}[args.what]

            def seen(name: str, receipt: Any) -> None:
                if name.startswith(row):
                    _print_trace(b, args, name, receipt)

            _steady(b, seen)
            return 0
        trader, liquidator, who = account("trader", 0), account("liquidator", 0), account(args.what, 0)
        ch.deposit([(trader, "USDC", 10_000, 101), (trader, "ETH", 2, 101), (liquidator, "USDC", 1_000_000, 101),
                    (who, "USDC", 5_000 if args.what == "partial" else 2_000, 101), (who, "ETH", 1, 101)])
        if args.what == "settle":
            m = b.c["markets"]["ETH"]
            ch.send(m.functions.commitOrder(5 * 10**18, MAX_UINT), trader)
            ch.advance(int(m.functions.orderConfig().call()[0]))
            b._push()
            if args.synced:
                b.sync_feeds()
            rid = int(b.c["aggs"]["ETH"].functions.latestRoundData().call()[0])
            r = ch.send(m.functions.settleOrder(trader, rid), _keeper(), gas=BIG_GAS)
        else:
            b.order("ETH", who, 8 if args.what == "partial" else 4)
            b.order("BTC", who, 0.5 if args.what == "partial" else 0.2)
            if args.what == "partial":
                _shock_until_liquidatable(b, who)
            else:
                b.scale(0.72)
            if args.synced:
                b.sync_feeds()
            liq = b.c["liq"]
            r = ch.send(liq.functions.liquidate(who, 0 if args.what == "partial" else MAX_UINT), liquidator,
                        gas=BIG_GAS)
        _print_trace(b, args, f"{args.what}{' (feeds synced)' if args.synced else ''}", r)
    finally:
        b.ch.close()
    return 0


def _print_trace(b: Bench, args: argparse.Namespace, title: str, r: Any) -> None:
    """The call tree of receipt `r`'s transaction to `args.depth`, then totals per function."""
    print(f"{title}: gasUsed {int(r['gasUsed']):,}")
    tx = r["transactionHash"].hex() if hasattr(r["transactionHash"], "hex") else r["transactionHash"]
    trace = b.ch.rpc("debug_traceTransaction", [tx, {"tracer": "callTracer"}])
    totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    _walk(trace, 0, b.names(), _selectors(), args.depth, totals)
    print("\ncalls  gas (callees included)  contract.function")
    for (to, fn), (n, gas) in sorted(totals.items(), key=lambda kv: -kv[1][1]):
        print(f"{n:>5} {gas:>12,}  {to}.{fn}")
    if args.opcodes:
        _print_kinds(b.kinds(r))


def _print_kinds(fb: Breakdown) -> None:
    """The transaction by kind of work (bench/gas_floor.py) and its storage gas by contract."""
    print(f"\nby kind of work (opcode trace; refund {fb.refund:,})")
    for kind, gas in sorted(fb.by_kind.items(), key=lambda kv: -kv[1]):
        floor = "state" if kind in STATE_KINDS else ""
        print(f"{gas:>10,}  {gas / fb.gas_used:>6.1%}  {kind:<18} {fb.count.get(kind, '')!s:>6}  {floor}")
    print(f"{fb.state:>10,}  {fb.state / fb.gas_used:>6.1%}  the state model's floor (the kinds marked state); "
          f"{fb.count.get('cold slots read', 0)} cold slots read")
    print("\nstorage reads and writes by contract (before the refund), and the cold slots it read")
    for who, gas in sorted(fb.storage_by_contract.items(), key=lambda kv: -kv[1]):
        print(f"{gas:>10,}  {fb.cold_slots_by_contract.get(who, 0):>3}  {who}")
    print("\nevery opcode but calls, by the contract running it")
    for who, gas in sorted(fb.own_by_contract.items(), key=lambda kv: -kv[1]):
        print(f"{gas:>10,}  {who}")


if __name__ == "__main__":
    sys.exit(main())
