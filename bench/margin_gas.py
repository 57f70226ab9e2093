"""Gas benchmark of the margin engine on a real anvil (issue 10): delayed orders (commit, settle
open / increase / close), liquidations (two markets + two collaterals, partial; full with collateral
sale and insurance; 16 markets), the same partial and full liquidations and an open in the
steady state (feeds synced, a seasoned book, USD already held: next to the first-time rows, never
instead of them), each with its state floor (bench/gas_floor.py) and again with signed-report feeds
(bench/_signed_feeds.py), and the keeper's MarginLens scan per account.

Run from the project root with the runtime venv after compiling: `.venv/bin/python bench/margin_gas.py`
(`--out` moves the JSON; `--lens-accounts` sizes the scan). It starts its own anvils (the real
binary, ports `XMARGIN_BENCH_BASE_PORT` + 40, + 41, + 43, + 44 or 15540, 15541, 15543, 15544), deploys
build/contracts with `bench/_stress_chain.py`,
prints each figure beside its target and beside `bench/margin_gas_baseline.json` (the figures before
issue 10's gas work) and writes bench/results/margin_gas.json. Gas figures are receipts' gasUsed
(21,000 intrinsic and calldata included); nothing is timed. The liquidation rows "feeds synced
first" repeat a liquidation from the same state after `syncFeed` on every feed, as the keeper
does first in each round: the other rows read every aggregator feed unsynced (the worst case,
each price read walking `MAX_WALK` rounds). Order figures repeat exactly;
liquidation figures move by ~2 % between runs (anvil block times follow the wall clock: funding and
the shock step differ)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from eth_utils import keccak  # noqa: E402
from web3.logs import DISCARD  # noqa: E402

from relayer.keeper.pusher import to_answer  # noqa: E402
from relayer.margin.params import LiquidationParams, market_params  # noqa: E402

from _signed_feeds import SignedFeeds  # noqa: E402
from _stress_chain import ASSET_IDS, BOOK_CALIBRATION, MAX_UINT, Chain, account, deploy_system  # noqa: E402
from gas_floor import Breakdown, breakdown  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "margin_gas.json"
BASELINE = ROOT / "bench" / "margin_gas_baseline.json"
BLOCK_GAS = 100_000_000
"""Anvil's block gas limit: large enough to estimate a lens page far above the 50M node cap."""
BIG_GAS = 29_000_000
NODE_CALL_CAP = 50_000_000
"""The common eth_call gas cap of RPC nodes (geth's default RPCGasCap)."""
KEEPER_MAX_LIQUIDATION_GAS = 25_000_000
"""relayer.keeper.liquidator.MAX_LIQUIDATION_GAS (not imported: the bench also runs against older
checkouts). Before issue 10 the keeper sent every liquidation with a fixed 3M."""
KEEPER_GAS_ROOM = (KEEPER_MAX_LIQUIDATION_GAS - 50_000) * 100 // 125
"""The most gas a liquidation may use while the keeper's limit for it (estimate x1.25 + 50k) stays
within that cap: the 16-market target ("within the keeper's limit")."""
LENS_PAGE = 100
"""relayer.keeper.liquidator.LENS_PAGE (not imported, as above)."""
FEED_LATCHED = 10
"""Index of `latched` in the `PriceOracleBase.Feed` tuple `feedOf` returns."""
WARMUP_ROUNDS = 6
"""Rounds pushed at the starting prices: the oracle's walk (MAX_WALK 4) then starts past the
deploy-time round at 1.0, which a move bound would refuse."""
EXTRA_MARKETS = 14
EXTRA_FEED0 = 10
EXTRA_PRICE = 100.0
TARGETS = {
    "commitOrder (open)": 200_000,
    "settleOrder (open)": 200_000,
    "liquidate: 2 markets + 2 collaterals, partial": 150_000,
    "liquidate: full close, collateral sale and insurance": 250_000,
    "liquidate: 16 markets": KEEPER_GAS_ROOM,
    "settleOrder (open), feeds synced first": 200_000,
    "liquidate: partial, feeds synced first (keeper round)": 150_000,
    "liquidate: full, sale and insurance, feeds synced first": 250_000,
    "liquidate: 16 markets, feeds synced first": KEEPER_GAS_ROOM,
    "settleOrder (open), feeds synced first, steady state": 200_000,
    "liquidate: partial, feeds synced, steady state": 150_000,
    "liquidate: full, sale and insurance, feeds synced, steady state": 250_000,
    "settleOrder (open), feeds synced first, steady state, signed feeds": 200_000,
    "liquidate: partial, feeds synced, steady state, signed feeds": 150_000,
    "liquidate: full, sale and insurance, feeds synced, steady state, signed feeds": 250_000,
    f"MarginLens.scan page of {LENS_PAGE} (the keeper's page)": NODE_CALL_CAP,
}


def _gas(r: Any) -> int:
    return int(r["gasUsed"])


def _keeper() -> str:
    return account("keeper", 0)


class Bench:
    """One anvil with the margin system (ETH and BTC markets, optionally 14 more); with `signed`, the
    three feeds are signed-report feeds (bench/_signed_feeds.py) instead of aggregators; `anvil_args`
    go to anvil."""

    def __init__(self, port: int, extra_markets: int = 0, signed: bool = False, anvil_args: Sequence[str] = ()) -> None:
        self.ch = Chain(port, BLOCK_GAS, anvil_args)
        try:
            self._setup(extra_markets, signed)
        except BaseException:
            self.ch.close()
            raise

    def _setup(self, extra_markets: int, signed: bool) -> None:
        deploy_system(self.ch, BOOK_CALIBRATION, LiquidationParams())
        self.c = self.ch.c
        self.signed = SignedFeeds(self.ch, sorted(ASSET_IDS.values())) if signed else None
        self.prices = {"ETH": 2_000.0, "BTC": 30_000.0}
        self.last_receipt: Any = None
        """The receipt of the last `order` settle or `liquidate` (for bench/margin_gas_trace.py)."""
        self.extra: dict[str, Any] = {}
        for i in range(extra_markets):
            self._add_market(f"M{i}", EXTRA_FEED0 + i)
        for _ in range(WARMUP_ROUNDS):
            self._push()
        ch = self.ch
        ch.deposit([(ch.pool, "USDC", 100_000_000, 101), (ch.insurance, "USDC", 100_000, 101)])

    def _add_market(self, name: str, feed: int) -> None:
        ch, c = self.ch, self.c
        agg = ch.deploy("MockAggregatorV3", 8)
        ch.send(agg.functions.push(to_answer(EXTRA_PRICE)))
        ch.send(c["oracle"].functions.setAggregatorFeed(feed, agg.address, 2 * 3_600, 10**12, 10**30, 3_000))
        m = ch.deploy("PerpMarket", ch.admin, c["ledger"].address, c["oracle"].address, c["engine"].address, feed,
                      ch.pool, market_params(EXTRA_PRICE, BOOK_CALIBRATION).as_tuple())
        ch.send(c["engine"].functions.addMarket(m.address))
        ch.send(c["ledger"].functions.grantRole(keccak(text="MARGIN_ROLE"), m.address))
        ch.send(m.functions.grantRole(m.functions.LIQUIDATOR_ROLE().call(), c["liq"].address))
        c["aggs"][name] = agg
        c["markets"][name] = m
        self.prices[name] = EXTRA_PRICE

    def _push(self) -> None:
        """One aggregator round (or signed report) per feed at the current prices (USDC at 1)."""
        if self.signed is not None:
            self.signed.push({ASSET_IDS[a]: p for a, p in {**self.prices, "USDC": 1.0}.items()})
            return
        aggs = self.c["aggs"]
        admin = str(self.ch.admin)
        calls = [(aggs[a].functions.push(to_answer(p)), admin) for a, p in self.prices.items()]
        calls.append((aggs["USDC"].functions.push(to_answer(1.0)), admin))
        self.ch.send_all(calls)

    def scale(self, factor: float) -> None:
        """Moves every market price by `factor` (one round each)."""
        self.prices = {a: p * factor for a, p in self.prices.items()}
        self._push()

    def order(self, name: str, trader: str, delta: float, sync: bool = False) -> tuple[int, int]:
        """commitOrder then settleOrder by the keeper (after syncing every feed when `sync`):
        (commit gas, settle gas); raises if not filled."""
        m = self.c["markets"][name]
        d = int(delta * 10**18)
        rc = self.ch.send(m.functions.commitOrder(d, MAX_UINT if d > 0 else 0), trader)
        self.ch.advance(int(m.functions.orderConfig().call()[0]))
        self._push()
        if sync:
            self.sync_feeds()
        if self.signed is not None:
            rid = self.signed.latest_round(ASSET_IDS[name])
        else:
            rid = int(self.c["aggs"][name].functions.latestRoundData().call()[0])
        rs = self.ch.send(m.functions.settleOrder(trader, rid), _keeper(), gas=BIG_GAS)
        if not m.events.OrderSettled().process_receipt(rs, errors=DISCARD):
            raise RuntimeError(f"order {name} {delta} of {trader} was not filled")
        self.last_receipt = rs
        return _gas(rc), _gas(rs)

    def sync_feeds(self) -> None:
        """`PriceOracle.syncFeed` on every feed the engine prices, as the keeper does first in each
        round (relayer/keeper/feeds.py): each later price read then walks no round past the anchor.
        A feed still anchored at its deploy-time round (1.0, which the warm-up's first real price
        jumps from, so a sync latches it) is first resolved by governance, as an operator would
        once after deploying."""
        oracle, admin = self.c["oracle"], str(self.ch.admin)
        feeds = sorted({int(f) for f in self.c["engine"].functions.priceFeeds().call()})
        self.ch.send_all([(oracle.functions.syncFeed(f), admin) for f in feeds])
        latched = [f for f in feeds if oracle.functions.feedOf(f).call()[FEED_LATCHED]]
        self.ch.send_all([(oracle.functions.resolveFeed(f), admin) for f in latched])

    def liquidatable(self, who: str) -> bool:
        return bool(self.c["engine"].functions.isLiquidatable(who).call())

    def liquidate(self, who: str, max_repay: int, liquidator: str) -> tuple[int, dict[str, int]]:
        """Liquidates; (gasUsed, count of each waterfall event)."""
        liq = self.c["liq"]
        liq.functions.liquidate(who, max_repay).call({"from": liquidator, "gas": BIG_GAS})  # decoded revert
        r = self.ch.send(liq.functions.liquidate(who, max_repay), liquidator, gas=BIG_GAS)
        self.last_receipt = r
        events = {}
        for ev in ("Liquidated", "CollateralSold", "InsuranceUsed", "CollateralSeized", "LossSocialised",
                   "BadDebtRecorded"):
            events[ev] = len(getattr(liq.events, ev)().process_receipt(r, errors=DISCARD))
        full = [e["args"]["full"] for e in liq.events.Liquidated().process_receipt(r, errors=DISCARD)]
        events["full"] = int(any(full))
        return _gas(r), events

    def names(self) -> dict[str, str]:
        """Deployed contract names by lower-case address (`markets.ETH`, `aggs.USDC`, `liq`, ...)."""
        out: dict[str, str] = {}
        for key, value in self.c.items():
            if isinstance(value, dict):
                for sub, contract in value.items():
                    out[contract.address.lower()] = f"{key}.{sub}"
            elif hasattr(value, "address"):
                out[value.address.lower()] = key
        return out

    def kinds(self, receipt: Any) -> Breakdown:
        """The mined transaction by kind of work (bench/gas_floor.py) from its opcode trace; needs
        anvil started with `--steps-tracing` (`anvil_args`)."""
        w3 = self.ch.w3
        tx = w3.eth.get_transaction(receipt["transactionHash"])
        logs = self.ch.rpc("debug_traceTransaction", [receipt["transactionHash"].to_0x_hex(),
                                                      {"disableMemory": True, "disableStorage": True}])["structLogs"]
        miner = str(w3.eth.get_block(receipt["blockNumber"])["miner"])
        return breakdown(logs, str(tx["from"]), str(tx["to"]), bytes(tx["input"]), int(receipt["gasUsed"]),
                         self.names(), miner)

    def snapshot(self) -> tuple[str, dict[str, float]]:
        return str(self.ch.rpc("evm_snapshot", [])), dict(self.prices)

    def revert(self, snap: tuple[str, dict[str, float]]) -> None:
        self.ch.rpc("evm_revert", [snap[0]])
        self.prices = dict(snap[1])


def _shock_until_liquidatable(b: Bench, who: str, step: float = 0.995) -> None:
    """Lowers every price by 0.5 % a round until `who` is just liquidatable."""
    for _ in range(200):
        if b.liquidatable(who):
            return
        b.scale(step)
    raise RuntimeError(f"{who} never became liquidatable")


def two_market_figures(port: int, lens_accounts: int) -> dict[str, Any]:
    """Orders, the two liquidations and the lens scan on a two-market system."""
    b = Bench(port)
    try:
        return _two_market_figures(b, lens_accounts)
    finally:
        b.ch.close()


def _two_market_figures(b: Bench, lens_accounts: int) -> dict[str, Any]:
    ch = b.ch
    out: dict[str, Any] = {}
    trader, liquidator = account("trader", 0), account("liquidator", 0)
    part, full = account("partial", 0), account("full", 0)
    ch.deposit([(trader, "USDC", 10_000, 101), (trader, "ETH", 2, 101), (liquidator, "USDC", 1_000_000, 101),
                (part, "USDC", 5_000, 101), (part, "ETH", 1, 101), (full, "USDC", 2_000, 101),
                (full, "ETH", 1, 101)])
    first = b.snapshot()
    out["settleOrder (open), feeds synced first"] = b.order("ETH", trader, 5, sync=True)[1]
    b.revert(first)
    out["commitOrder (open)"], out["settleOrder (open)"] = b.order("ETH", trader, 5)
    out["commitOrder (increase)"], out["settleOrder (increase)"] = b.order("ETH", trader, 1)
    out["commitOrder (open, second market)"], out["settleOrder (open, second market)"] = b.order("BTC", trader, 0.3)
    out["commitOrder (close)"], out["settleOrder (close)"] = b.order("ETH", trader, -6)
    b.order("ETH", part, 8)
    b.order("BTC", part, 0.5)
    b.order("ETH", full, 4)
    b.order("BTC", full, 0.2)
    snap = b.snapshot()
    _shock_until_liquidatable(b, part)
    shocked = b.snapshot()
    gas, ev = b.liquidate(part, 0, liquidator)
    if ev["Liquidated"] != 1 or ev["full"]:
        raise RuntimeError(f"the partial liquidation was not partial: {ev}")
    out["liquidate: 2 markets + 2 collaterals, partial"] = gas
    b.revert(shocked)
    b.sync_feeds()
    gas, ev = b.liquidate(part, 0, liquidator)
    if ev["Liquidated"] != 1 or ev["full"]:
        raise RuntimeError(f"the partial liquidation (feeds synced) was not partial: {ev}")
    out["liquidate: partial, feeds synced first (keeper round)"] = gas
    b.revert(snap)
    snap = b.snapshot()
    b.scale(0.72)
    shocked = b.snapshot()
    gas, ev = b.liquidate(full, MAX_UINT, liquidator)
    if not (ev["full"] and ev["CollateralSold"] >= 2 and ev["InsuranceUsed"] == 1):
        raise RuntimeError(f"the full liquidation did not sell collateral and use insurance: {ev}")
    out["liquidate: full close, collateral sale and insurance"] = gas
    b.revert(shocked)
    b.sync_feeds()
    gas, ev = b.liquidate(full, MAX_UINT, liquidator)
    if not (ev["full"] and ev["CollateralSold"] >= 2 and ev["InsuranceUsed"] == 1):
        raise RuntimeError(f"the full liquidation (feeds synced) did not sell collateral and use insurance: {ev}")
    out["liquidate: full, sale and insurance, feeds synced first"] = gas
    b.revert(snap)
    out.update(lens_figures(b, lens_accounts))
    return out


def lens_figures(b: Bench, n: int) -> dict[str, Any]:
    """MarginLens.liquidatable over `n` accounts holding both markets: gas per account (eth_call
    estimate less the 21,000 base), and the largest page under the 50M node cap."""
    ch = b.ch
    accounts = [account("lens", i) for i in range(n)]
    ch.deposit([(a, "USDC", 10_000, 102) for a in accounts])
    ch.trade_all([("ETH", 2 * 10**18, a) for a in accounts] + [("BTC", 10**17, a) for a in accounts],
                 b.prices["ETH"], b.prices["BTC"])
    lens = b.c["lens"]
    est = int(lens.functions.liquidatable(accounts).estimate_gas({"from": ch.admin}))
    per = (est - 21_000) / n
    out = {"MarginLens.liquidatable per account (2 markets)": round(per),
           "MarginLens.liquidatable accounts per 50M call": int((NODE_CALL_CAP - 21_000) // per)}
    if any(f.get("name") == "scan" for f in lens.abi):  # the keeper's paged scan (issue 10)
        page = min(n, LENS_PAGE)
        out[f"MarginLens.scan page of {page} (the keeper's page)"] = int(
            lens.functions.scan(accounts, 0, page).estimate_gas({"from": ch.admin}))
    return out


def sixteen_market_figure(port: int) -> dict[str, Any]:
    """A liquidation of an account holding all 16 markets (USDC collateral only)."""
    b = Bench(port, EXTRA_MARKETS)
    try:
        return _sixteen(b)
    finally:
        b.ch.close()


def _sixteen(b: Bench) -> dict[str, Any]:
    who, liquidator = account("sixteen", 0), account("liquidator", 0)
    two = account("two-of-sixteen", 0)
    b.ch.deposit([(who, "USDC", 20_000, 101), (liquidator, "USDC", 1_000_000, 101), (two, "USDC", 2_500, 101)])
    for name, price in list(b.prices.items()):
        b.order(name, who, 5_000 / price)
    for name in ("ETH", "BTC"):  # the same leverage on 2 of the 16 markets
        b.order(name, two, 5_000 / b.prices[name])
    b.scale(0.78)
    shocked = b.snapshot()
    gas, ev = b.liquidate(who, 0, liquidator)
    if ev["Liquidated"] < 1:
        raise RuntimeError(f"the 16-market liquidation did not liquidate: {ev}")
    b.revert(shocked)
    shocked = b.snapshot()
    held_two, ev_two = b.liquidate(two, 0, liquidator)
    if ev_two["Liquidated"] < 1:
        raise RuntimeError(f"the 2-of-16 liquidation did not liquidate: {ev_two}")
    b.revert(shocked)
    b.sync_feeds()
    synced, ev_synced = b.liquidate(who, 0, liquidator)
    if ev_synced["Liquidated"] < 1:
        raise RuntimeError(f"the 16-market liquidation (feeds synced) did not liquidate: {ev_synced}")
    return {"liquidate: 16 markets": gas, "liquidate: 16 markets, full close": ev["full"],
            "liquidate: 16 markets, feeds synced first": synced,
            "liquidate: 2 markets held of 16 listed": held_two}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--lens-accounts", type=int, default=100)
    args = parser.parse_args(argv)
    port = int(os.environ.get("XMARGIN_BENCH_BASE_PORT", "15500")) + 40
    figures = two_market_figures(port, args.lens_accounts)
    from margin_gas_steady import steady_state_figures  # it imports this module: imported here

    figures.update(steady_state_figures(port + 3))
    figures.update(steady_state_figures(port + 4, signed=True))
    figures.update(sixteen_market_figure(port + 1))
    baseline = json.loads(BASELINE.read_text())["figures"] if BASELINE.exists() else {}
    missed = []
    width = max(len(name) for name in figures)
    print(f"{'margin gas (anvil, receipts gasUsed)':<{width}} {'before':>10} {'now':>10} {'target':>10}")
    for name, value in figures.items():
        before = baseline.get(name, "")
        target = TARGETS.get(name, "")
        if target and value > target:
            missed.append(name)
        print(f"{name:<{width}} {before!s:>10} {value!s:>10} {target!s:>10}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"figures": figures, "targets": TARGETS, "missed": missed}, indent=2) + "\n")
    print(f"targets missed: {', '.join(missed) or 'none'}; written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
