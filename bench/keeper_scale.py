"""Keeper at scale (issue 10): N accounts with positions on one anvil hub at a 30M block gas limit,
a price update that makes one in `--every` liquidatable, then the relayer's real keeper code
(relayer.keeper.liquidator.Keeper with relayer.chain.sender's TxSender behind
relayer.keeper.inflight.TxPipeline, per-account Redis leases when several keepers run) liquidates
them; how many hub blocks from the price update until the last liquidation, and why.

Run from the project root after compiling: `.venv/bin/python bench/keeper_scale.py` (defaults:
10,000 accounts, 1 in 10 liquidatable, one keeper, 1 s blocks). Blocks are emulated by manual
mining once the book is open: a thread calls `evm_mine` every `--block-time` s. Anvil on
`XMARGIN_BENCH_BASE_PORT` + 60 (15560 by default); Redis `XMARGIN_BENCH_REDIS_URL` (keys under a
prefix of this run, deleted at the end) for the nonce locks and the leases. Prints the figures
beside the issue's targets and writes bench/results/keeper_scale.json. bench/README.md explains."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import requests  # noqa: E402
from eth_account import Account  # noqa: E402
from eth_utils import keccak  # noqa: E402

from relayer.chain.abi import abi_of  # noqa: E402
from relayer.chain.nonces import LocalNonceLock, NonceLock, NonceManager  # noqa: E402
from relayer.chain.sender import FeePolicy, TxSender  # noqa: E402
from relayer.keeper.inflight import FlightCaps, TxPipeline  # noqa: E402
from relayer.keeper.liquidator import LENS_PAGE, Claim, Keeper, _no_claim  # noqa: E402
from relayer.keeper.outcome import KeeperRound  # noqa: E402
from relayer.keeper.tracker import AccountTracker  # noqa: E402
from relayer.store.lease import lease  # noqa: E402
from relayer.store.nonces import RedisNonceLock  # noqa: E402
from relayer.store.redis_store import Store  # noqa: E402
from relayer.types import ChainId  # noqa: E402

from _keeper_chain import HUB_GAS_LIMIT, SHOCK, ScaleChain, is_risky, trader  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "keeper_scale.json"
TARGET_BLOCKS = 3
TARGET_GAS_PER_LIQUIDATION = 90_000
"""30M / 1,000 liquidations over 3 blocks, rounded down with room for the scan's own transactions."""
NODE_CALL_CAP = 50_000_000
ROUND_TIMEOUT_S = 1_800.0
LIQUIDATION_LEASE_TTL_S = 30.0
"""relayer.context's (not imported: the context pulls in the whole runtime)."""


@dataclass
class Report:
    """What the run measured (bench/results/keeper_scale.json)."""

    setup: dict[str, Any]
    liquidatable: int = 0
    liquidated: int = 0
    liquidated_more_than_once: int = 0
    safe_liquidated: int = 0
    left_liquidatable: int = 0
    price_block: int = 0
    first_liquidation_block: int = 0
    last_liquidation_block: int = 0
    blocks: int = 0
    """Hub blocks from the price update's to the last liquidation's (inclusive of the latter)."""
    blocks_with_liquidations: int = 0
    gas_per_liquidation: dict[str, float] = field(default_factory=dict)
    gas_floor_blocks: dict[str, int] = field(default_factory=dict)
    """Blocks the liquidations need at 30M whatever the keeper does: by gasUsed and by gas limits."""
    per_block: dict[str, float] = field(default_factory=dict)
    lens: dict[str, Any] = field(default_factory=dict)
    keepers: list[dict[str, Any]] = field(default_factory=list)
    wall_s: dict[str, float] = field(default_factory=dict)
    throughput: dict[str, float] = field(default_factory=dict)
    load_avg: dict[str, list[float]] = field(default_factory=dict)
    targets: list[dict[str, Any]] = field(default_factory=list)


def load() -> list[float]:
    """/proc/loadavg's 1, 5 and 15-minute figures."""
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def keeper_key(i: int) -> str:
    return "0x" + keccak(text=f"xmargin-bench-keeper-scale-{i}").hex()


def make_keepers(sc: ScaleChain, count: int, caps: FlightCaps, redis_url: str | None, prefix: str) -> list[Keeper]:
    """`count` keepers with their own keys (funded), TxSender pipelines and, with Redis, the
    relayer's nonce lock and per-account leases (what relayer.context builds)."""
    w3 = sc.ch.w3
    if redis_url is None and count > 1:
        raise SystemExit("several keepers share their work through Redis: set XMARGIN_BENCH_REDIS_URL or --redis-url")
    store = Store(redis_url, prefix=prefix) if redis_url else None
    chain_id = ChainId(int(w3.eth.chain_id))
    market_abi = abi_of("PerpMarket")
    keepers = []
    for i in range(count):
        acct = Account.from_key(keeper_key(i))
        sc.fund_keeper(acct.address)
        lock: NonceLock = RedisNonceLock(store, chain_id, acct.address) if store is not None else LocalNonceLock()
        nonces = NonceManager(lock, pending_nonce(w3, acct.address))
        sender = TxSender(w3, acct, chain_id, nonces, FeePolicy(stuck_after_s=60.0), chain="hub")
        tracker = AccountTracker(w3, market_abi, [sc.c["markets"]["ETH"].address, sc.c["markets"]["BTC"].address])
        keepers.append(Keeper(w3, acct.address, tracker, sc.c["lens"], sc.c["liq"], pipeline=TxPipeline(sender),
                              caps=caps, claim=account_claim(store)))
    return keepers


def pending_nonce(w3: Any, address: str) -> Callable[[], int]:
    """The chain's pending transaction count of `address` (what relayer.context gives NonceManager)."""
    return lambda: int(w3.eth.get_transaction_count(address, "pending"))


def account_claim(store: Store | None) -> Claim:
    """The relayer's per-account lease (relayer.context), or none for a lone keeper without Redis."""
    if store is None:
        return _no_claim
    return lambda account: lease(store, f"liquidation:{account}", LIQUIDATION_LEASE_TTL_S)


class Miner:
    """Mines one hub block every `every` seconds (evm_mine from its own thread) while the keepers
    run: manual mining that emulates a fixed block time. (anvil's own interval mining left the
    keeper's pending transactions out of its blocks in a loaded run, for minutes.)"""

    def __init__(self, sc: ScaleChain, every: float) -> None:
        self.url = sc.url
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="miner", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        with requests.Session() as session:
            while not self._stop.wait(self.every):
                session.post(self.url, json={"jsonrpc": "2.0", "id": 1, "method": "evm_mine", "params": []},
                             timeout=600)


def run_keeper(keeper: Keeper, rounds: list[KeeperRound], timing: list[dict[str, float]],
               errors: list[BaseException]) -> None:
    """Rounds until one finds nothing liquidatable: `run_once` as its worker runs it (this keeper has
    no feed syncer, settler or deleverager, so a round is exactly its scan then its liquidations,
    timed apart here)."""
    deadline = time.monotonic() + ROUND_TIMEOUT_S
    w3 = keeper.w3
    try:
        while time.monotonic() < deadline:
            t0 = time.monotonic()
            checked, unhealthy = keeper.unhealthy_accounts()
            t1 = time.monotonic()
            scanned_at = int(w3.eth.block_number)
            r = keeper.liquidate(checked, unhealthy)
            rounds.append(r)
            timing.append({"scan_s": round(t1 - t0, 2), "liquidate_s": round(time.monotonic() - t1, 2),
                           "block_after_scan": scanned_at})
            if r.unhealthy == 0 or not (r.sent or r.skipped_claimed):
                return  # all done, or nothing this keeper can do (what is left is reported)
        raise RuntimeError("keeper rounds did not finish in time")
    except Exception as err:  # noqa: BLE001  (the main thread re-raises it)
        errors.append(err)


def lens_figures(sc: ScaleChain, keeper: Keeper, n: int) -> dict[str, Any]:
    """Gas of one `MarginLens.scan` page as the keeper sends it (eth_estimateGas), the pages a full
    scan takes, and the wall time of the keeper's whole scan (before the shock: the same work)."""
    lens, admin = sc.c["lens"], sc.ch.admin
    page = min(LENS_PAGE, n)
    gas = int(lens.functions.scan([trader(i) for i in range(page)], 0, page).estimate_gas({"from": admin}))
    t = time.monotonic()
    checked, _ = keeper.unhealthy_accounts()
    scan_s = time.monotonic() - t
    return {"page": page, "gas_per_page": gas, "pages": math.ceil(checked / LENS_PAGE),
            "gas_per_account": round((gas - 21_000) / page), "under_node_cap": gas < NODE_CALL_CAP,
            "full_scan_s": round(scan_s, 2), "accounts_scanned": checked}


def measure(sc: ScaleChain, args: argparse.Namespace, report: Report) -> None:
    """Price update, keepers, then the figures from the chain's own records."""
    caps = FlightCaps(max_in_flight=args.max_in_flight, block_gas_share=args.block_gas_share,
                      prepare_ahead=args.prepare_ahead)
    prefix = f"xmargin-bench-keeper-scale-{os.getpid()}"
    keepers = make_keepers(sc, args.keepers, caps, args.redis_url, prefix)
    for k in keepers:
        k.tracker.refresh()  # followed before the shock, as a running keeper would have
    report.lens = lens_figures(sc, keepers[0], args.accounts)
    sc.rpc("evm_setAutomine", [False])
    miner = Miner(sc, args.block_time)
    miner.start()
    report.load_avg["start"] = load()
    t0 = time.monotonic()
    price = {"ETH": sc.prices["ETH"] * SHOCK, "USDC": 1.0}
    report.price_block = sc.push(price)
    t_price = time.monotonic()
    rounds: list[list[KeeperRound]] = [[] for _ in keepers]
    timing: list[list[dict[str, float]]] = [[] for _ in keepers]
    errors: list[BaseException] = []
    threads = [threading.Thread(target=run_keeper, args=(k, rounds[i], timing[i], errors), daemon=True)
               for i, k in enumerate(keepers)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        miner.stop()
    t_done = time.monotonic()
    report.load_avg["end"] = load()
    sc.rpc("evm_setAutomine", [True])
    if errors:
        raise errors[0]
    report.wall_s = {"price_update_s": round(t_price - t0, 2), "keepers_s": round(t_done - t_price, 2)}
    collect(sc, args, report, keepers, rounds)
    for entry, times in zip(report.keepers, timing, strict=True):
        entry["rounds_timing"] = times
    if args.redis_url:
        from redis import Redis

        r = Redis.from_url(args.redis_url)
        for key in r.scan_iter(f"{prefix}:*"):
            r.delete(key)


def collect(sc: ScaleChain, args: argparse.Namespace, report: Report, keepers: list[Keeper],
            rounds: list[list[KeeperRound]]) -> None:
    """Liquidated events, receipts and the keepers' own rounds."""
    liq = sc.c["liq"]
    events = liq.events.Liquidated().get_logs(from_block=report.price_block)
    per_account: dict[str, int] = {}
    for e in events:
        per_account[str(e["args"]["account"])] = per_account.get(str(e["args"]["account"]), 0) + 1
    risky = {trader(i) for i in range(args.accounts) if is_risky(i, args.every)}
    report.liquidatable = len(risky)
    report.liquidated = len(per_account)
    report.liquidated_more_than_once = sum(1 for c in per_account.values() if c > 1)
    report.safe_liquidated = len(set(per_account) - risky)
    everyone = [trader(i) for i in range(args.accounts)]
    report.left_liquidatable = sum(len(sc.c["lens"].functions.scan(everyone[o:o + LENS_PAGE], 0, LENS_PAGE).call()[0])
                                   for o in range(0, args.accounts, LENS_PAGE))
    w3 = sc.ch.w3
    tx_hashes = {e["transactionHash"] for e in events}
    receipts = [w3.eth.get_transaction_receipt(h) for h in tx_hashes]
    limits = [int(w3.eth.get_transaction(h)["gas"]) for h in tx_hashes]
    used = [int(r["gasUsed"]) for r in receipts]
    blocks = sorted({int(r["blockNumber"]) for r in receipts})
    report.first_liquidation_block = blocks[0] if blocks else report.price_block
    report.last_liquidation_block = blocks[-1] if blocks else report.price_block
    report.blocks = report.last_liquidation_block - report.price_block
    report.blocks_with_liquidations = len(blocks)
    n = max(len(used), 1)
    report.gas_per_liquidation = {"mean_used": round(sum(used) / n), "max_used": max(used, default=0),
                                  "mean_limit": round(sum(limits) / n)}
    report.gas_floor_blocks = {"by_gas_used": math.ceil(sum(used) / HUB_GAS_LIMIT),
                               "by_gas_limits": math.ceil(sum(limits) / HUB_GAS_LIMIT)}
    fills = [int(w3.eth.get_block(b)["gasUsed"]) for b in blocks]
    report.per_block = {"liquidations_max": max((sum(1 for r in receipts if int(r["blockNumber"]) == b)
                                                for b in blocks), default=0),
                        "gas_used_max": max(fills, default=0),
                        "fill_mean_pct": round(100 * sum(fills) / max(len(fills), 1) / HUB_GAS_LIMIT, 1)}
    keepers_s = report.wall_s["keepers_s"]
    report.throughput = {"liquidations_per_block": round(len(used) / max(report.blocks, 1), 1),
                         "liquidations_per_s": round(len(used) / max(keepers_s, 1e-9), 1)}
    for k, rs in zip(keepers, rounds, strict=True):
        report.keepers.append({
            "keeper": k.sender, "rounds": len(rs), "sent": sum(len(r.sent) for r in rs),
            "liquidated": sum(len(r.liquidated) for r in rs), "reverted": sum(r.reverted for r in rs),
            "reverted_by": {a: w for r in rs for a, w in r.reverted_by.items()},
            "skipped_claimed": sum(r.skipped_claimed for r in rs), "skipped_benign": sum(r.skipped_benign for r in rs),
            "out_of_gas": sum(len(r.out_of_gas) for r in rs), "lost": sum(len(r.lost) for r in rs),
            "failed": {a: e for r in rs for a, e in r.failed.items()},
            "peak_in_flight": max((r.peak_in_flight for r in rs), default=0),
        })
    mean = report.gas_per_liquidation["mean_used"]
    report.targets = [
        {"what": f"keeper: {report.liquidatable} liquidations within {TARGET_BLOCKS} hub blocks of the price update",
         "target": f"<= {TARGET_BLOCKS} blocks", "measured": f"{report.blocks} blocks",
         "met": report.blocks <= TARGET_BLOCKS and report.liquidated == report.liquidatable},
        {"what": "keeper: gas per liquidation (mean gasUsed)", "target": f"<= {TARGET_GAS_PER_LIQUIDATION:,}",
         "measured": f"{mean:,}", "met": mean <= TARGET_GAS_PER_LIQUIDATION},
        {"what": f"keeper: MarginLens.scan page of {report.lens['page']}", "target": f"< {NODE_CALL_CAP:,} gas",
         "measured": f"{report.lens['gas_per_page']:,}", "met": report.lens["under_node_cap"]},
        {"what": f"keeper: every account liquidated exactly once ({len(keepers)} keeper(s))",
         "target": "all once, none twice, no duplicate send",
         "measured": f"{report.liquidated}/{report.liquidatable} once, {report.liquidated_more_than_once} twice, "
                     f"{sum(k['reverted'] for k in report.keepers)} reverted",
         "met": report.liquidated == report.liquidatable and report.liquidated_more_than_once == 0
                and report.safe_liquidated == 0 and sum(k["reverted"] for k in report.keepers) == 0},
    ]


def print_report(report: Report) -> None:
    """The figures beside the targets."""
    print(f"accounts {report.setup['accounts']}, liquidatable {report.liquidatable}, keepers "
          f"{report.setup['keepers']}, a block mined every {report.setup['block_time_s']} s (evm_mine), "
          f"block gas limit {HUB_GAS_LIMIT:,}")
    print(f"set-up: {report.setup['timings']}")
    print(f"price update in block {report.price_block}; liquidations in blocks {report.first_liquidation_block}"
          f"..{report.last_liquidation_block}: "
          f"{report.blocks} blocks ({report.blocks_with_liquidations} held liquidations); keepers ran "
          f"{report.wall_s['keepers_s']} s")
    print(f"gas per liquidation: {report.gas_per_liquidation}; blocks the gas alone needs at 30M: "
          f"{report.gas_floor_blocks}")
    print(f"per block: {report.per_block}; throughput: {report.throughput}")
    print(f"lens: {report.lens}")
    for k in report.keepers:
        print(f"keeper {k['keeper']}: " + ", ".join(f"{key} {v}" for key, v in k.items() if key != "keeper"))
    print(f"load average (1/5/15 min): start {report.load_avg.get('start')}, end {report.load_avg.get('end')}")
    for t in report.targets:
        print(f"  {t['what']:<66} {t['measured']:>28}  {t['target']:<40} {'met' if t['met'] else 'NOT MET'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--every", type=int, default=10, help="one account in EVERY is made liquidatable")
    parser.add_argument("--keepers", type=int, default=1)
    parser.add_argument("--block-time", type=float, default=1.0, help="seconds between the hub blocks the bench mines")
    parser.add_argument("--max-in-flight", type=int, default=128)
    parser.add_argument("--block-gas-share", type=float, default=1.0)
    parser.add_argument("--prepare-ahead", type=int, default=4,
                        help="accounts each keeper simulates at once (the relayer's keeper.prepare_ahead: 4)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("XMARGIN_BENCH_BASE_PORT", "15500")) + 60)
    parser.add_argument("--redis-url", default=os.environ.get("XMARGIN_BENCH_REDIS_URL"))
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    setup = {"accounts": args.accounts, "every": args.every, "keepers": args.keepers, "block_time_s": args.block_time,
             "max_in_flight": args.max_in_flight, "block_gas_share": args.block_gas_share,
             "prepare_ahead": args.prepare_ahead,
             "block_gas_limit": HUB_GAS_LIMIT, "mining": "manual: evm_mine every block_time_s from a thread",
             "load_avg_before_setup": load()}
    t = time.monotonic()
    sc = ScaleChain(args.port)
    try:
        timings = sc.open_book(args.accounts, args.every)
        timings["total_s"] = round(time.monotonic() - t, 1)
        setup["timings"] = {k: round(v, 1) for k, v in timings.items()}
        report = Report(setup)
        measure(sc, args, report)
    finally:
        sc.close()
    print_report(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(asdict(report), indent=2) + "\n")
    print(f"written to {args.out}")
    ok = report.liquidated == report.liquidatable and report.liquidated_more_than_once == 0 \
        and report.safe_liquidated == 0 and report.left_liquidatable == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
