"""End-to-end latency and throughput of the relayer on a real devnet: single deposits at a steady
pace, a burst of deposits from several accounts, and withdrawals, each against the protocol floor.

Run from the project root with the runtime venv (after `make compile`):

    .venv/bin/python bench/latency.py --base-port 18650 --redis-url redis://127.0.0.1:6379/6

It starts the devnet exactly as `xmargin devnet up --no-scenario` does (3 anvil chains, Redis if
local and down, 5 Celery validators, the submitter, beat and the API) in a temporary directory,
always stops it (also on errors, Ctrl-C, SIGTERM, or when this process is killed), prints a table
and writes bench/results/latency.json. See bench/README.md."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the relayer package of this checkout comes first

from eth_account import Account  # noqa: E402
from eth_utils import keccak  # noqa: E402
from web3 import Web3  # noqa: E402

from relayer.chain.abi import load_artifact  # noqa: E402
from relayer.devnet.chains import rpc_call  # noqa: E402
from relayer.devnet.layout import USER_KEYS, DevnetLayout  # noqa: E402
from relayer.errors import XmarginError  # noqa: E402
from relayer.types import ChainId  # noqa: E402

from _latency_devnet import (  # noqa: E402  (the harness)
    BURST_TX_GAS,
    DEPOSIT_UNITS,
    LEDGER_SCALE,
    PHASE_TIMEOUT_S,
    POLL_S,
    RESULTS,
    USDC_UNIT,
    WITHDRAW_LEDGER_UNITS,
    Bench,
    BenchError,
    Signer,
    Transfer,
    running_devnet,
    wait_receipts,
)
from _latency_report import BurstResult, LatencyResult, Report, print_table  # noqa: E402
from _latency_stats import (  # noqa: E402  (the pure statistics)
    Floor,
    protocol_floor,
    rate,
    summarize,
    times_floor,
)

# ----------------------------------------------------------------------------- phases


@dataclass
class Phase:
    """The transfers of one paced phase, its warm-up ones, and every chain's head when it began."""

    warmup: list[Transfer]
    items: list[Transfer]
    from_blocks: dict[int, int]


def latency_result(bench: Bench, what: str, phase: Phase, pace_s: float, floor: Floor) -> LatencyResult:
    """Chain and wall-clock latencies of delivered items."""
    items = phase.items
    credit = bench.crediting(items, phase.from_blocks)
    chain_s, blocks = [], []
    for index, item in enumerate(items):
        batch, start = credit[index]
        dest = item.route.dest_chain_id
        sent_at = bench.timestamp(item.route.source_chain_id, item.block)
        chain_s.append(bench.timestamp(dest, batch.block_number) - sent_at)
        blocks.append(batch.block_number - start)
    chain = summarize(chain_s)
    return LatencyResult(
        what=what, count=len(items), pace_s=pace_s, floor=floor, chain_s=chain, blocks=summarize(blocks),
        wall_s=summarize([i.done_seen_at - i.mined_seen_at for i in items]),  # type: ignore[operator]
        sent_to_done_s=summarize([i.done_seen_at - i.sent_at for i in items]),  # type: ignore[operator]
        vs_floor=times_floor(chain, floor.seconds), batches=bench.batches(items, credit),
        warmup_sent_to_done_s=[round(i.done_seen_at - i.sent_at, 3) for i in phase.warmup],  # type: ignore[operator]
    )


def from_blocks(bench: Bench) -> dict[int, int]:
    """Head of every chain now: where a phase's destination scans start."""
    return {c: bench.head(c) for c in bench.ctx.clients}


def beneficiary(label: str) -> str:
    """A deterministic hub account nobody holds (credits only ever go to it)."""
    return Web3.to_checksum_address(keccak(text=f"xmargin-bench-latency-{label}")[12:])


def _usdc(bench: Bench, chain_id: ChainId) -> Any:
    """The spoke's USDC (MockERC20: anyone may mint)."""
    address = Web3.to_checksum_address(bench.deployment.tokens[chain_id]["USDC"].address)
    return bench.w3(chain_id).eth.contract(address=address, abi=load_artifact("MockERC20").abi)


def depositors(bench: Bench, keys: dict[ChainId, list[str]]) -> dict[ChainId, list[Signer]]:
    """Signers per spoke with gas, minted USDC and the lockbox approved (not timed)."""
    out: dict[ChainId, list[Signer]] = {}
    for chain_id, chain_keys in keys.items():
        w3, usdc = bench.w3(chain_id), _usdc(bench, chain_id)
        lockbox = bench.ctx.lockbox(chain_id).address
        url = bench.ctx.settings.chain(chain_id).rpc_urls[0]
        hashes = []
        for key in chain_keys:
            signer = Signer.of(w3, chain_id, key)
            rpc_call(url, "anvil_setBalance", [signer.account.address, hex(10**21)])
            hashes.append(signer.send(usdc.functions.mint(signer.account.address, 10**9 * USDC_UNIT)))
            hashes.append(signer.send(usdc.functions.approve(lockbox, 2**255)))
            out.setdefault(chain_id, []).append(signer)
        wait_receipts(w3, hashes)
    return out


def deposit_fn(bench: Bench, chain_id: ChainId, account: str) -> Any:
    """A USDC deposit call on a spoke for hub `account`."""
    lockbox = bench.ctx.lockbox(chain_id)
    return lockbox.functions.deposit(bench.deployment.tokens[chain_id]["USDC"].address, DEPOSIT_UNITS, account)


def paced_deposits(bench: Bench, count: int, pace_s: float, account: str) -> Phase:
    """One deposit per route to warm up (waited for), then `count` alternating spokes `pace_s` apart."""
    spokes = sorted(bench.deposit_routes)
    keys = {s: [k] for s, k in zip(spokes, USER_KEYS.values(), strict=False)}  # one user key per spoke
    signers = {s: d[0] for s, d in depositors(bench, keys).items()}

    ledger, usdc_id = bench.ctx.ledger(), bench.deployment.assets["USDC"]
    before = int(ledger.functions.balanceOf(account, usdc_id).call())

    def send(i: int) -> Transfer:
        spoke = spokes[i % len(spokes)]
        call, sent_at = deposit_fn(bench, spoke, account), time.monotonic()
        return Transfer(bench.deposit_routes[spoke], signers[spoke].send(call), sent_at)

    warmup: list[Transfer] = []
    bench.drive(warmup, send, len(spokes), 0)  # cold routes: first scans, first batches
    phase = Phase(warmup, [], from_blocks(bench))
    bench.drive(phase.items, send, count, pace_s)
    credited = int(ledger.functions.balanceOf(account, usdc_id).call()) - before
    if credited != (len(spokes) + count) * DEPOSIT_UNITS * LEDGER_SCALE:  # each exactly once, none as a claim
        raise BenchError(f"{account} was credited {credited}, expected {len(spokes) + count} deposits")
    return phase


def paced_withdrawals(bench: Bench, count: int, pace_s: float, key: str) -> Phase:
    """A warm-up withdrawal per spoke, then `count` 1-USDC withdrawals alternating spokes `pace_s` apart."""
    hub = bench.deployment.hub.chain_id
    signer = Signer.of(bench.w3(hub), hub, key)
    ledger = bench.ctx.ledger()
    usdc_id = bench.deployment.assets["USDC"]
    spokes = sorted(bench.withdrawal_routes)

    def send(i: int) -> Transfer:
        spoke = spokes[i % len(spokes)]
        fn = ledger.functions.requestWithdrawal(usdc_id, WITHDRAW_LEDGER_UNITS, spoke, beneficiary("recipient"))
        sent_at = time.monotonic()
        return Transfer(bench.withdrawal_routes[spoke], signer.send(fn), sent_at)

    warmup: list[Transfer] = []
    bench.drive(warmup, send, len(spokes), 0)
    phase = Phase(warmup, [], from_blocks(bench))
    bench.drive(phase.items, send, count, pace_s)
    recipient = beneficiary("recipient")
    for spoke in spokes:  # released, not parked: the recipient holds every withdrawn USDC
        got = int(_usdc(bench, spoke).functions.balanceOf(recipient).call())
        expected = (count // len(spokes) + (spokes.index(spoke) < count % len(spokes)) + 1) * USDC_UNIT
        if got != expected:
            raise BenchError(f"recipient holds {got} USDC units on {spoke}, expected {expected}: releases parked?")
    return phase


def burst(bench: Bench, count: int, accounts_per_spoke: int, floor: Floor) -> BurstResult:
    """`count` deposits split over both spokes and several funded accounts, each account sending its
    pre-signed transactions back to back in its own thread; then wait until the hub credited all."""
    spokes = sorted(bench.deposit_routes)
    keys = {s: ["0x" + keccak(text=f"xmargin-bench-latency-burst-{s}-{i}").hex() for i in range(accounts_per_spoke)]
            for s in spokes}
    groups = depositors(bench, keys)
    signers = [s for group in groups.values() for s in group]
    plans: dict[str, list[tuple[bytes, bytes]]] = {s.account.address: [] for s in signers}
    for i in range(count):  # spokes alternate, each spoke's accounts take turns
        signer = groups[spokes[i % len(spokes)]][(i // len(spokes)) % accounts_per_spoke]
        call = deposit_fn(bench, signer.chain_id, beneficiary(f"burst-{i}"))
        plans[signer.account.address].append(signer.sign(call, gas=BURST_TX_GAS))
    start_nonces = {s: bench.readers[str(bench.deposit_routes[s])].source_state("latest").nonce for s in spokes}
    targets = {s: start_nonces[s] + sum(len(plans[g.account.address]) for g in groups[s]) for s in spokes}
    start_blocks = from_blocks(bench)
    errors: list[BaseException] = []

    def send_all(signer: Signer, plan: list[tuple[bytes, bytes]]) -> None:
        try:
            for raw, _ in plan:
                signer.w3.eth.send_raw_transaction(raw)
        except BaseException as err:  # noqa: BLE001 - reported by the main thread
            errors.append(err)

    threads = [threading.Thread(target=send_all, args=(s, plans[s.account.address])) for s in signers]
    first_send = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent_all = time.monotonic()
    if errors:
        raise BenchError(f"sending the burst failed: {errors[0]!r}")
    done_at: dict[int, float] = {}
    while len(done_at) < len(spokes):
        for s in spokes:
            if s not in done_at and bench.readers[str(bench.deposit_routes[s])].dest_state().nonce >= targets[s]:
                done_at[s] = time.monotonic()
        bench.check_alive()
        if time.monotonic() - sent_all > PHASE_TIMEOUT_S:
            raise BenchError(f"burst not credited within {PHASE_TIMEOUT_S:.0f}s")
        time.sleep(POLL_S)
    all_done = max(done_at.values())

    items: list[Transfer] = []
    spoke_gas: list[int] = []
    for signer in signers:
        for receipt in wait_receipts(signer.w3, [h for _, h in plans[signer.account.address]]):
            spoke_gas.append(int(receipt["gasUsed"]))
            item = Transfer(bench.deposit_routes[signer.chain_id], bytes(receipt["transactionHash"]), first_send)
            bench._record_receipt(item, receipt)
            items.append(item)
    credit = bench.crediting(items, start_blocks)
    hub = bench.deployment.hub.chain_id
    latencies = [
        bench.timestamp(hub, credit[i][0].block_number)
        - bench.timestamp(item.route.source_chain_id, item.block)
        for i, item in enumerate(items)
    ]
    check_credited(bench, count)
    first_ts = min(bench.timestamp(i.route.source_chain_id, i.block) for i in items)
    last_ts = max(bench.timestamp(hub, c[0].block_number) for c in credit.values())
    latency = summarize(latencies)
    return BurstResult(
        deposits=count, accounts=len(signers), send_s=round(sent_all - first_send, 3),
        all_done_s=round(all_done - first_send, 3), deposits_per_s=rate(count, all_done - first_send),
        chain_span_s=last_ts - first_ts, chain_deposits_per_s=rate(count, last_ts - first_ts),
        spoke_blocks={str(s): len({i.block for i in items if i.route.source_chain_id == s}) for s in spokes},
        spoke_gas_max=max(spoke_gas),
        hub_batch_offsets_s=sorted({b.tx_hash: bench.timestamp(hub, b.block_number) - first_ts
                                    for b, _ in credit.values()}.values()),
        latency_s=latency, floor=floor, vs_floor=times_floor(latency, floor.seconds),
        batches=bench.batches(items, credit),
    )


def check_credited(bench: Bench, count: int) -> None:
    """Every burst beneficiary holds exactly one deposit on the hub (credited once, no claim)."""
    ledger = bench.ctx.ledger()
    usdc_id = bench.deployment.assets["USDC"]
    for i in range(count):
        got = int(ledger.functions.balanceOf(beneficiary(f"burst-{i}"), usdc_id).call())
        if got != DEPOSIT_UNITS * LEDGER_SCALE:
            raise BenchError(f"burst beneficiary {i} holds {got}, expected {DEPOSIT_UNITS * LEDGER_SCALE}")


# ----------------------------------------------------------------------------- report


def run(args: argparse.Namespace) -> Report:
    """Start the devnet, run the three phases, stop the devnet."""
    layout = DevnetLayout.from_env(
        dir=Path(tempfile.mkdtemp(prefix="xmargin-latency-")), base_port=args.base_port, redis_url=args.redis_url,
        block_time=args.block_time, confirmations=args.confirmations,
    )
    hub = next(c for c in layout.chains if c.role == "hub")
    spoke = next(c for c in layout.chains if c.role == "spoke")
    floor_in = protocol_floor(spoke.confirmations, layout.block_time, layout.block_time)
    floor_out = protocol_floor(hub.confirmations, layout.block_time, layout.block_time)
    report = Report(setup={
        "machine": f"{os.cpu_count()} cores (shared)",
        "chains": "3 anvil (hub 31337, spokes 31338, 31339), interval mining",
        "block_time_s": layout.block_time, "confirmations": spoke.confirmations,
        "relayer": "5 Celery validators (3-of-5), 1 submitter, beat, API; Redis " + layout.redis_url,
        "poll_s": POLL_S,
        "load_avg_1m": [round(os.getloadavg()[0], 1)],
    })
    clock = time.monotonic()
    with running_devnet(layout) as net:
        report.runtime_s["devnet_up"] = round(time.monotonic() - clock, 1)
        bench = Bench(net)
        alice = Account.from_key(USER_KEYS["alice"]).address
        phase = time.monotonic()
        paced = paced_deposits(bench, args.deposits, args.pace, alice)
        report.deposits = latency_result(bench, "deposit", paced, args.pace, floor_in)
        report.runtime_s["deposits"] = round(time.monotonic() - phase, 1)
        if args.burst:
            phase = time.monotonic()
            report.burst = burst(bench, args.burst, args.accounts, floor_in)
            report.runtime_s["burst"] = round(time.monotonic() - phase, 1)
        if args.withdrawals:
            phase = time.monotonic()
            paced = paced_withdrawals(bench, args.withdrawals, args.pace, USER_KEYS["alice"])
            report.withdrawals = latency_result(bench, "withdrawal", paced, args.pace, floor_out)
            report.runtime_s["withdrawals"] = round(time.monotonic() - phase, 1)
        clock_down = time.monotonic()
    report.runtime_s["devnet_down"] = round(time.monotonic() - clock_down, 1)
    report.setup["load_avg_1m"].append(round(os.getloadavg()[0], 1))  # at the start and at the end
    report.runtime_s["total"] = round(time.monotonic() - clock, 1)
    return report


def main(argv: list[str] | None = None) -> int:
    """Parse flags, run, print, write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    env = os.environ.get
    parser.add_argument("--deposits", type=int, default=30, help="single deposits, alternating spokes (default 30)")
    parser.add_argument("--pace", type=float, default=2.0, help="seconds between single transfers (default 2)")
    parser.add_argument("--burst", type=int, default=300, help="deposits of the burst, 0 to skip (default 300)")
    parser.add_argument("--accounts", type=int, default=4, help="burst senders per spoke (default 4)")
    parser.add_argument("--withdrawals", type=int, default=10, help="withdrawals, 0 to skip (default 10)")
    parser.add_argument("--base-port", type=int, default=int(env("XMARGIN_BENCH_BASE_PORT", "18650")),
                        help="hub RPC port; spokes +1, +2, API +3 (env XMARGIN_BENCH_BASE_PORT, default 18650)")
    parser.add_argument("--redis-url", default=env("XMARGIN_BENCH_REDIS_URL", "redis://127.0.0.1:6379/6"),
                        help="Redis (started if local and down; its xmargin:* keys are cleared) "
                             "(env XMARGIN_BENCH_REDIS_URL, default redis://127.0.0.1:6379/6)")
    parser.add_argument("--block-time", type=int, default=None, help="seconds per block (devnet default 1)")
    parser.add_argument("--confirmations", type=int, default=None, help="finality depth (devnet default 2)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON results")
    args = parser.parse_args(argv)
    if args.deposits < 1 or args.pace < 0 or args.burst < 0 or args.withdrawals < 0 or args.accounts < 1:
        parser.error("--deposits and --accounts must be >= 1; --pace, --burst, --withdrawals >= 0")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    try:
        report = run(args)
    except KeyboardInterrupt:
        print("interrupted; the devnet was stopped", file=sys.stderr)
        return 130
    except (BenchError, XmarginError) as err:
        print(f"latency benchmark failed (the devnet was stopped): {err}", file=sys.stderr)
        return 1
    print_table(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(asdict(report), indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
