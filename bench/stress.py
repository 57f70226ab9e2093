"""Stress tool: replay the real crash price paths (shared/data/crashes/*_1h.csv) against >= 1,000
simulated accounts with random leveraged positions on a REAL anvil chain, hourly oracle updates,
two competing keepers liquidating. Writes bench/results/stress.json.

    .venv/bin/python bench/stress.py --accounts 1000 --port 8770

Requires `brownie compile` first (ABIs and bytecode come from build/contracts)."""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _unlocked import unlocked_send  # noqa: E402
from eth_account import Account  # noqa: E402
from eth_utils import keccak  # noqa: E402
from web3 import Web3  # noqa: E402
from web3.types import RPCEndpoint  # noqa: E402

from relayer.chain.abi import load_artifact  # noqa: E402
from relayer.keeper.liquidator import Keeper  # noqa: E402
from relayer.keeper.pusher import crash_dir, load_path, to_answer  # noqa: E402
from relayer.keeper.tracker import AccountTracker  # noqa: E402
from relayer.proofs.checkpoint import Checkpoint, pack_signatures, sign  # noqa: E402
from relayer.proofs.hashchain import DepositMessage, fold  # noqa: E402
from relayer.types import ChainId  # noqa: E402

ANVIL = ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
CRASHES = crash_dir()
"""../shared/data/crashes beside the repository ($XMARGIN_CRASH_DATA overrides it)."""
VALIDATOR_KEYS = ["0x" + keccak(text=f"xmargin-stress-validator-{i}").hex() for i in range(3)]
"""Throwaway keys of the stress chain's 2-of-3 validator set (deposits are signed like the relayer's)."""
EVENTS = ["2020-03-12", "2021-05-19", "2022-06-13", "2022-11-08", "2024-08-05"]
E18 = 10**18
USDC, WETH, WBTC = 1, 2, 3
SPOKE = ChainId(101)
TOKENS = {USDC: ("0x" + "11" * 20, 6), WETH: ("0x" + "22" * 20, 18), WBTC: ("0x" + "33" * 20, 8)}
WEIGHTS = {USDC: 10_000, WETH: 9_000, WBTC: 9_000}
HOUR = 3_600
HEARTBEAT = 2 * HOUR
MAX_MOVE_BPS = 3_000  # hourly closes move up to 20.9 % (ETH, 12 March 2020)
TX = {"gas": 2_000_000, "gasPrice": 0}
MAX_UINT = 2**256 - 1
BATCH = 200


# ---------------------------------------------------------------- calibrated parameters
def market_params(price: float, cfg: argparse.Namespace) -> tuple[int, ...]:
    """PerpMarket.Params for an underlying at `price`, stated in USD and converted to base units."""
    imf_base = int(E18 / cfg.max_leverage)
    # IMF grows by `imf_per_10m` per 10M USD of position notional
    imf_slope = int(cfg.imf_per_10m * E18 * price / 10_000_000)
    skew_scale = int(200_000_000 / price * E18)  # funding saturates at 200M USD of skew
    max_oi = int(5_000_000_000 / price * E18)
    return (E18 // 1_000, imf_base, imf_slope, int(cfg.mm_ratio * E18), E18 // 10, skew_scale, max_oi)


def liquidation_params(cfg: argparse.Namespace) -> tuple[int, ...]:
    """LiquidationModule.Params: close factor, reward, penalty, collateral discount."""
    return (E18 // 2, int(cfg.reward * E18), int(cfg.penalty * E18), E18 // 20)


# ---------------------------------------------------------------- chain plumbing
class Chain:
    """A real anvil process and the deployed margin system."""

    def __init__(self, port: int) -> None:
        self.proc = subprocess.Popen(
            [str(ANVIL), "--port", str(port), "--gas-limit", "4000000000", "--base-fee", "0", "--gas-price", "0",
             "--auto-impersonate", "--accounts", "3", "--silent"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self.w3 = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{port}", request_kwargs={"timeout": 600}))
        deadline = time.monotonic() + 30
        while not self.w3.is_connected():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("anvil did not start")
            time.sleep(0.2)
        self.admin = self.w3.eth.accounts[0]
        self.c: dict[str, Any] = {}

    def close(self) -> None:
        """Stops the anvil process this tool started."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def deploy(self, name: str, *args: Any) -> Any:
        art = load_artifact(name)
        factory = self.w3.eth.contract(abi=art.abi, bytecode="0x" + art.bytecode.removeprefix("0x"))
        h = factory.constructor(*args).transact({"from": self.admin, "gas": 30_000_000, "gasPrice": 0})
        addr = self.w3.eth.wait_for_transaction_receipt(h)["contractAddress"]
        return self.w3.eth.contract(address=addr, abi=art.abi)

    def send(self, fn: Any, sender: str | None = None, wait: bool = True, gas: int = TX["gas"]) -> str:
        h = fn.transact({"from": sender or self.admin, "gas": gas, "gasPrice": 0})
        if wait:
            r = self.w3.eth.wait_for_transaction_receipt(h)
            if r["status"] != 1:
                raise RuntimeError(f"transaction failed: {fn.fn_name}")
        return h

    def wait_all(self, hashes: list) -> list[int]:
        return [self.w3.eth.wait_for_transaction_receipt(h, timeout=600)["status"] for h in hashes]

    def rpc(self, method: str, params: list) -> Any:
        return self.w3.provider.make_request(RPCEndpoint(method), params)["result"]


def account(label: str, i: int) -> str:
    """Deterministic simulated account (auto-impersonated by anvil; gas price 0)."""
    return Web3.to_checksum_address(keccak(text=f"xmargin-stress-{label}-{i}")[-20:])


def deploy_system(ch: Chain, cfg: argparse.Namespace) -> dict[str, Any]:
    """Ledger, oracle with three aggregators, risk engine, ETH and BTC markets, liquidation, lens."""
    c = ch.c
    pool, insurance = account("pool", 0), account("insurance", 0)
    c["ledger"] = ledger = ch.deploy("MarginLedger", ch.admin)
    ch.send(ledger.functions.registerSpoke(SPOKE, ch.admin))
    vals = sorted((Account.from_key(k).address for k in VALIDATOR_KEYS), key=lambda a: int(a, 16))
    ch.send(ledger.functions.setValidators(SPOKE, vals, 2))
    for asset, sym in ((USDC, "USDC"), (WETH, "WETH"), (WBTC, "WBTC")):
        token, dec = TOKENS[asset]
        ch.send(ledger.functions.listAsset(asset, sym, dec))
        ch.send(ledger.functions.listToken(SPOKE, token, asset, dec))
        ch.send(ledger.functions.setCollateralParams(asset, WEIGHTS[asset], 0))
    ch.send(ledger.functions.setInsuranceFund(insurance))
    c["oracle"] = oracle = ch.deploy("PriceOracle", ch.admin)
    c["aggs"] = {}
    for asset in (USDC, WETH, WBTC):
        agg = c["aggs"][asset] = ch.deploy("MockAggregatorV3", 8)
        ch.send(agg.functions.push(to_answer(1.0)))
        ch.send(oracle.functions.setAggregatorFeed(asset, agg.address, HEARTBEAT, 10**12, 10**30, MAX_MOVE_BPS))
    c["engine"] = engine = ch.deploy("RiskEngine", ch.admin, ledger.address, oracle.address)
    ch.send(ledger.functions.setRiskEngine(engine.address))
    c["markets"] = {}
    margin_role = keccak(text="MARGIN_ROLE")
    c["liq"] = liq = ch.deploy("LiquidationModule", ch.admin, ledger.address, engine.address, oracle.address, pool,
                              liquidation_params(cfg))
    for asset, start in ((WETH, 2_000.0), (WBTC, 30_000.0)):
        m = c["markets"][asset] = ch.deploy("PerpMarket", ch.admin, ledger.address, oracle.address, engine.address,
                                            asset, pool, market_params(start, cfg))
        ch.send(engine.functions.addMarket(m.address))
        ch.send(ledger.functions.grantRole(margin_role, m.address))
        ch.send(m.functions.grantRole(m.functions.LIQUIDATOR_ROLE().call(), liq.address))
    ch.send(ledger.functions.grantRole(margin_role, liq.address))
    c["lens"] = ch.deploy("MarginLens", engine.address)
    return {"pool": pool, "insurance": insurance}


def deposit(ch: Chain, items: list[tuple[str, int, int]]) -> None:
    """Credits [(account, assetId, token units)] through signed deposit batches."""
    ledger = ch.c["ledger"]
    for i in range(0, len(items), BATCH):
        chunk = items[i:i + BATCH]
        nonce, head = ledger.functions.depositRoute(SPOKE).call()
        msgs = [DepositMessage(depositor=a, account=a, token=TOKENS[asset][0], amount=amt) for a, asset, amt in chunk]
        new_head = fold(bytes(head), nonce + 1, msgs)
        last = nonce + len(msgs)
        cp = Checkpoint(source_chain_id=SPOKE, source=ch.admin, nonce=last, head=new_head)
        hub = ChainId(ch.w3.eth.chain_id)
        sigs = pack_signatures(
            {Account.from_key(k).address: sign(cp, hub, ledger.address, k) for k in VALIDATOR_KEYS[:2]}
        )
        ch.send(ledger.functions.processDeposits([m.as_tuple() for m in msgs], cp.as_tuple(), sigs),
                gas=60_000_000)


# ---------------------------------------------------------------- one event
def push_prices(ch: Chain, eth: float, btc: float) -> None:
    aggs = ch.c["aggs"]
    hs = [aggs[a].functions.push(to_answer(p)).transact({"from": ch.admin, **TX})
          for a, p in ((USDC, 1.0), (WETH, eth), (WBTC, btc))]
    ch.wait_all(hs)


def advance(ch: Chain, seconds: int) -> None:
    ch.rpc("evm_increaseTime", [seconds])
    ch.rpc("evm_mine", [])


def open_positions(
    ch: Chain, traders: list[dict], prices: dict[int, float], cfg: argparse.Namespace, rng: random.Random
) -> dict:
    """Random positions: market ETH / BTC / both, long 60 %, leverage U(1, max) on the deposit."""
    hashes = []
    for t in traders:
        choice = rng.random()
        markets = [WETH] if choice < 0.45 else [WBTC] if choice < 0.9 else [WETH, WBTC]
        for asset in markets:
            lev = rng.uniform(1.0, cfg.max_leverage * 0.98) / len(markets)
            notional = t["collateral_usd"] * lev
            size = int(notional / prices[asset] * E18) * (1 if rng.random() < 0.6 else -1)
            limit = MAX_UINT if size > 0 else 0
            m = ch.c["markets"][asset]
            hashes.append(m.functions.modifyPosition(size, limit).transact({"from": t["address"], **TX}))
    statuses = ch.wait_all(hashes)
    oi = 0.0
    for asset, m in ch.c["markets"].items():
        oi += (m.functions.longOpenInterest().call() + m.functions.shortOpenInterest().call()) / E18 * prices[asset]
    return {"orders": len(hashes), "opened": sum(statuses), "refused_by_margin": len(hashes) - sum(statuses),
            "open_interest_usd": oi}


def collect(ch: Chain, from_block: int, roles: dict) -> dict:
    """Per-event totals from the liquidation module's events."""
    liq = ch.c["liq"]
    ev = liq.events

    def logs(event: Any) -> list:
        return event().get_logs(from_block=from_block)

    liquidated = logs(ev.Liquidated)
    ins = logs(ev.InsuranceUsed)
    soc = logs(ev.LossSocialised)
    bad = logs(ev.BadDebtRecorded)
    sold = logs(ev.CollateralSold)
    deficits: dict[str, int] = {}
    for group in (ins, soc, bad):
        for e in group:
            deficits[e.args.account] = deficits.get(e.args.account, 0) + e.args.amount
    worst = max(deficits.items(), key=lambda kv: kv[1], default=(None, 0))
    return {
        "liquidations": len(liquidated),
        "accounts_liquidated": len({e.args.account for e in liquidated}),
        "full_closes": sum(1 for e in liquidated if e.args.full),
        "liquidator_rewards_usd": sum(e.args.reward for e in liquidated) / E18,
        "insurance_penalties_usd": sum(e.args.penalty for e in liquidated) / E18,
        "collateral_sales": len(sold),
        "collateral_sold_usd": sum(e.args.repaid for e in sold) / E18,
        "insurance_used_usd": sum(e.args.amount for e in ins) / E18,
        "socialised_usd": sum(e.args.amount for e in soc) / E18,
        "bad_debt_written_off_usd": sum(e.args.amount for e in bad) / E18,
        "worst_account": {"address": worst[0], "deficit_usd": worst[1] / E18},
    }


def run_event(
    ch: Chain, event: str, traders: list[dict], roles: dict, keepers: list[Keeper], cfg: argparse.Namespace
) -> dict:
    eth_path = load_path(CRASHES / f"eth_{event}_1h.csv")
    btc_path = load_path(CRASHES / f"btc_{event}_1h.csv")
    rng = random.Random(f"{cfg.seed}-{event}")
    start = {WETH: eth_path[0].open, WBTC: btc_path[0].open}
    # Each event starts far from the previous one's price: the first round is rejected by the
    # max-move bound (as it should be), the second (same price) is valid.
    push_prices(ch, start[WETH], start[WBTC])
    push_prices(ch, start[WETH], start[WBTC])
    for asset, m in ch.c["markets"].items():
        ch.send(m.functions.setParams(market_params(start[asset], cfg)))
    from_block = ch.w3.eth.block_number + 1
    for k in keepers:
        k.tracker.next_block, k.tracker.accounts = from_block, set()
    opened = open_positions(ch, traders, start, cfg, rng)
    engine, insurance = ch.c["engine"], roles["insurance"]
    ins_start = engine.functions.health(insurance).call()[0] / E18
    t0 = time.monotonic()
    rounds = benign = 0
    for i, (e_bar, b_bar) in enumerate(zip(eth_path, btc_path, strict=True)):
        advance(ch, HOUR)
        push_prices(ch, e_bar.close, b_bar.close)
        # Competing keepers: each reads the same unhealthy set before any of them acts; the
        # order rotates, so every keeper both wins and loses races.
        views = [k.unhealthy_accounts() for k in keepers]
        order = list(range(len(keepers)))
        order = order[i % len(order):] + order[: i % len(order)]
        for j in order:
            r = keepers[j].liquidate(*views[j])
            rounds += 1
            benign += r.skipped_benign
    result = collect(ch, from_block, roles)
    led = ch.c["ledger"]
    ins_end = engine.functions.health(insurance).call()[0] / E18
    beyond = result["socialised_usd"] + result["bad_debt_written_off_usd"]
    result.update(
        event=event, hours=len(eth_path), **opened,
        price_start={"ETH": start[WETH], "BTC": start[WBTC]},
        price_min_close={"ETH": min(b.close for b in eth_path), "BTC": min(b.close for b in btc_path)},
        insurance_equity_start_usd=ins_start, insurance_equity_end_usd=ins_end,
        bad_debt_beyond_insurance_usd=beyond,
        bad_debt_beyond_insurance_pct_oi=(
            100 * beyond / opened["open_interest_usd"] if opened["open_interest_usd"] else 0
        ),
        ledger_bad_debt_usd=led.functions.badDebt().call() / E18,
        keeper_races_lost=benign, seconds=round(time.monotonic() - t0, 1),
    )
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--accounts", type=int, default=1_000)
    ap.add_argument("--port", type=int, default=8770)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--events", nargs="*", default=EVENTS)
    ap.add_argument("--max-leverage", type=float, default=5.0)
    ap.add_argument("--mm-ratio", type=float, default=0.5)
    ap.add_argument("--imf-per-10m", type=float, default=0.05)
    ap.add_argument("--reward", type=float, default=0.01)
    ap.add_argument("--penalty", type=float, default=0.01)
    ap.add_argument("--insurance-usd", type=float, default=3_000_000)
    ap.add_argument("--keepers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "stress.json")
    cfg = ap.parse_args()

    ch = Chain(cfg.port)
    try:
        roles = deploy_system(ch, cfg)
        rng = random.Random(cfg.seed)
        traders, items = [], []
        for i in range(cfg.accounts):
            addr, usd = account("trader", i), rng.uniform(1_000, 100_000)
            traders.append({"address": addr, "collateral_usd": usd})
            items.append((addr, USDC, int(usd * 10**6)))
        keeper_addrs = [account("keeper", i) for i in range(cfg.keepers)]
        items += [
            (roles["pool"], USDC, 10_000_000_000 * 10**6), (roles["insurance"], USDC, int(cfg.insurance_usd * 10**6))
        ]
        items += [(k, USDC, 100_000_000 * 10**6) for k in keeper_addrs]
        deposit(ch, items)
        mk = load_artifact("PerpMarket").abi
        keepers = [
            Keeper(ch.w3, a, AccountTracker(ch.w3, mk, [m.address for m in ch.c["markets"].values()]),
                   ch.c["lens"], ch.c["liq"], send=unlocked_send(ch.w3, a))
            for a in keeper_addrs
        ]
        snap = ch.rpc("evm_snapshot", [])
        results = []
        for event in cfg.events:
            ch.rpc("evm_revert", [snap])
            snap = ch.rpc("evm_snapshot", [])
            r = run_event(ch, event, traders, roles, keepers, cfg)
            results.append(r)
            print(f"{event}: OI ${r['open_interest_usd']:,.0f}  liquidations {r['liquidations']} "
                  f"({r['accounts_liquidated']} accounts)  rewards ${r['liquidator_rewards_usd']:,.0f}  "
                  f"insurance used ${r['insurance_used_usd']:,.0f}  beyond insurance "
                  f"${r['bad_debt_beyond_insurance_usd']:,.0f} ({r['bad_debt_beyond_insurance_pct_oi']:.4f} % OI)  "
                  f"worst ${r['worst_account']['deficit_usd']:,.0f}  [{r['seconds']} s]", flush=True)
        out = {"config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(cfg).items()}, "events": results}
        cfg.out.parent.mkdir(parents=True, exist_ok=True)
        cfg.out.write_text(json.dumps(out, indent=2))
        print(f"wrote {cfg.out}")
    finally:
        ch.close()


if __name__ == "__main__":
    main()
