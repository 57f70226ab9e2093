"""Relayer throughput on a real devnet: a load generator sends USDC deposits on both spokes at a set
rate for a set duration, and the hub's credits are timed (throughput, lag percentiles, backlog).

Run from the project root with the runtime venv (after compiling the contracts):

    .venv/bin/python bench/throughput.py                          # phases 50x30,200x60
    .venv/bin/python bench/throughput.py --phases 200x60 --relayer-ref main   # main's relayer code

Each phase RATExSECONDS sends RATE deposits/s in total (half per spoke, from --accounts funded
accounts per spoke, pre-signed) for SECONDS, then waits until the hub credited all of them. The
devnet is the one of `xmargin devnet up --no-scenario` (3 anvil chains, 5 validators, submitter,
beat, API), always stopped at the end. With --relayer-ref, the devnet's relayer processes run the
`relayer` package of that git ref (exported with `git archive`): a before/after in one command.
Writes bench/results/throughput.json; see bench/README.md."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _throughput_probe import Samples, cpu_delta, cpu_seconds, lags, load_avg, steady_rate  # noqa: E402
from eth_utils import keccak  # noqa: E402
from latency import deposit_fn, depositors  # noqa: E402
from web3 import Web3  # noqa: E402

from relayer.devnet.layout import DevnetLayout  # noqa: E402
from relayer.errors import XmarginError  # noqa: E402
from relayer.types import ChainId  # noqa: E402

from _latency_devnet import DEPOSIT_UNITS, LEDGER_SCALE, Bench, BenchError, Signer, running_devnet  # noqa: E402
from _latency_stats import Summary, protocol_floor, summarize  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "throughput.json"
DEPOSIT_GAS = 150_000
"""Gas limit of a load deposit (~64k steady, more for the first on a cold lockbox): anvil packs
blocks by gas limit, so 200 fit a 30M spoke block."""
BENEFICIARIES = 256
"""Hub accounts per spoke the deposits cycle through: the first round credits new balances."""
SAMPLE_S = 0.25
DRAIN_TIMEOUT_S = 180.0
MINED_TIMEOUT_S = 30.0
WARMUP_S = 10.0
"""Start of the steady-state window: the pipeline's first credits arrive after the floor and more."""


@dataclass
class PhaseResult:
    """One RATExSECONDS phase."""

    rate: int
    seconds: int
    deposits: int
    send_s: float
    """Wall time the load generator took to send everything (>= seconds if it could not keep up)."""
    drain_s: float
    """From the last send until the hub credited the last deposit."""
    steady_credit_per_s: float
    """Deposits credited per second from WARMUP_S into the phase to its end of sending."""
    overall_per_s: float
    """Deposits / (first send to last credit)."""
    backlog_max: int
    lag_s: Summary
    """Source block to the hub block that credited it (1 s blocks: also in hub blocks)."""
    overhead_blocks: Summary
    """Lag minus the protocol floor (confirmations + one hub block), in hub blocks."""
    hub_batches: int
    batch_size_max: int
    batch_size_mean: float
    hub_gas_per_deposit: float
    cpu_s: dict[str, float]
    """CPU seconds per process during the phase (send start to last credit): where the time goes."""
    load_avg: dict[str, list[float]] = field(default_factory=dict)


@dataclass
class Report:
    """Everything printed and written to JSON."""

    setup: dict[str, Any]
    phases: list[PhaseResult] = field(default_factory=list)


def beneficiary(spoke: int, i: int) -> str:
    """Hub account `i` of a spoke's deposits."""
    return Web3.to_checksum_address(keccak(text=f"xmargin-bench-throughput-{spoke}-{i}")[12:])


def presign(bench: Bench, signers: list[Signer], spoke: ChainId, count: int) -> list[bytes]:
    """`count` raw deposit transactions, accounts taking turns (not timed)."""
    lockbox = bench.ctx.lockbox(spoke).address
    calldata = [deposit_fn(bench, spoke, beneficiary(spoke, i))._encode_transaction_data()
                for i in range(min(count, BENEFICIARIES))]
    raws = []
    for i in range(count):
        s = signers[i % len(signers)]
        tx = {"to": lockbox, "data": calldata[i % len(calldata)], "nonce": s.nonce, "gas": DEPOSIT_GAS,
              "chainId": spoke, "maxFeePerGas": s.max_fee, "maxPriorityFeePerGas": 10**9, "value": 0, "type": 2}
        s.nonce += 1
        raws.append(bytes(s.account.sign_transaction(tx).raw_transaction))
    return raws


def send_paced(
    w3: Web3, raws: list[bytes], per_s: float, start: float, sent: list[int], errors: list[BaseException]
) -> None:
    """Send `raws` at `per_s` from `start` (monotonic); `sent[0]` counts what went out."""
    try:
        for i, raw in enumerate(raws):
            due = start + i / per_s
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            w3.eth.send_raw_transaction(raw)
            sent[0] = i + 1
    except BaseException as err:  # noqa: BLE001 - reported by the main thread
        errors.append(err)


def run_phase(bench: Bench, rate: int, seconds: int, accounts: int, groups: dict[str, int]) -> PhaseResult:
    """Send `rate` deposits/s for `seconds` across both spokes, wait for every credit, measure."""
    spokes = sorted(bench.deposit_routes)
    keys = {s: ["0x" + keccak(text=f"xmargin-bench-throughput-{s}-{rate}-{k}").hex() for k in range(accounts)]
            for s in spokes}
    signers = depositors(bench, keys)
    per_spoke = rate * seconds // len(spokes)
    raws = {s: presign(bench, signers[s], s, per_spoke) for s in spokes}
    readers = {s: bench.readers[str(bench.deposit_routes[s])] for s in spokes}
    start_nonce = {s: readers[s].dest_state().nonce for s in spokes}
    target = {s: readers[s].source_state("latest").nonce + per_spoke for s in spokes}
    from_block = {c: bench.head(c) for c in bench.ctx.clients}
    counters = {s: [[0] for _ in range(accounts)] for s in spokes}
    errors: list[BaseException] = []
    loads = {"start": load_avg()}
    cpu_before = cpu_seconds(groups, os.getpid())
    start = time.monotonic() + 0.2
    threads = [threading.Thread(target=send_paced, daemon=True,  # one per account: a slow node reply
                                args=(bench.w3(s), raws[s][k::accounts], rate / len(spokes) / accounts,  # never
                                      start, counters[s][k], errors))  # holds back the other accounts
               for s in spokes for k in range(accounts)]
    for t in threads:
        t.start()
    samples = Samples()
    sent_done: float | None = None
    while True:
        now = time.monotonic()
        credited = {s: readers[s].dest_state().nonce - start_nonce[s] for s in spokes}
        samples.add(now - start, sum(c[0] for per in counters.values() for c in per), sum(credited.values()))
        if errors:
            raise BenchError(f"sending failed: {errors[0]!r}")
        if sent_done is None and all(not t.is_alive() for t in threads):
            sent_done = now
            loads["end_of_sending"] = load_avg()
        if sent_done is not None and all(start_nonce[s] + credited[s] >= target[s] for s in spokes):
            break
        if sent_done is not None and now - sent_done > MINED_TIMEOUT_S and any(
                readers[s].source_state("latest").nonce < target[s] for s in spokes):
            raise BenchError(f"deposits not all mined {MINED_TIMEOUT_S:.0f}s after the last send (reverted?)")
        if sent_done is not None and now - sent_done > DRAIN_TIMEOUT_S:
            raise BenchError(f"not credited {DRAIN_TIMEOUT_S:.0f}s after the last send: {credited}")
        bench.check_alive()
        time.sleep(SAMPLE_S)
    done = time.monotonic()
    cpu = cpu_delta(cpu_before, cpu_seconds(groups, os.getpid()))
    loads["end"] = load_avg()
    assert sent_done is not None
    return analyse(bench, rate, seconds, samples, start, sent_done, done, from_block, start_nonce, cpu, loads)


def analyse(bench: Bench, rate: int, seconds: int, samples: Samples, start: float, sent_done: float, done: float,
            from_block: dict[int, int], start_nonce: dict[ChainId, int], cpu: dict[str, float],
            loads: dict[str, list[float]]) -> PhaseResult:
    """Lag per deposit from chain data (source block -> hub batch block), batches and gas."""
    hub = bench.deployment.hub.chain_id
    lag: list[int] = []
    sizes: list[int] = []
    gas: list[int] = []
    for spoke, route in sorted(bench.deposit_routes.items()):
        reader = bench.readers[str(route)]
        low = start_nonce[spoke]
        deposits = [(m.nonce, m.block_number)
                    for m in reader.scan_messages(from_block[spoke], bench.head(spoke)) if m.nonce > low]
        batches = [b for b in reader.scan_processed(from_block[hub], bench.head(hub)) if b.last_nonce > low]
        spans = [(b.last_nonce - b.count + 1, b.last_nonce, b.block_number) for b in batches]
        lag += lags(deposits, spans, partial(bench.timestamp, spoke), partial(bench.timestamp, hub))
        sizes += [b.count for b in batches]
        gas += [bench.gas_used(hub, b.tx_hash) for b in batches]
    floor = protocol_floor(bench.ctx.settings.chain(ChainId(min(bench.deposit_routes))).confirmations, 1, 1)
    check_credited(bench, rate * seconds // len(bench.deposit_routes))
    total = rate * seconds // len(bench.deposit_routes) * len(bench.deposit_routes)
    return PhaseResult(
        rate=rate, seconds=seconds, deposits=total, send_s=round(sent_done - start, 2),
        drain_s=round(done - sent_done, 2),
        steady_credit_per_s=steady_rate(samples.points, WARMUP_S, sent_done - start),
        overall_per_s=round(total / (done - start), 1), backlog_max=samples.backlog_max(),
        lag_s=summarize(lag), overhead_blocks=summarize([v - floor.seconds for v in lag]),
        hub_batches=len(sizes), batch_size_max=max(sizes), batch_size_mean=round(sum(sizes) / len(sizes), 1),
        hub_gas_per_deposit=round(sum(gas) / sum(sizes)), cpu_s=cpu, load_avg=loads,
    )


_credited_so_far: dict[str, int] = {}


def check_credited(bench: Bench, per_spoke: int) -> None:
    """Every beneficiary's balance grew by exactly the deposits sent to it (once each, no claims)."""
    ledger, usdc = bench.ctx.ledger(), bench.deployment.assets["USDC"]
    for spoke in bench.deposit_routes:
        for i in range(min(per_spoke, BENEFICIARIES)):
            account = beneficiary(spoke, i)
            expected = _credited_so_far.get(account, 0) + (per_spoke // BENEFICIARIES
                                                            + (i < per_spoke % BENEFICIARIES)) * DEPOSIT_UNITS
            got = int(ledger.functions.balanceOf(account, usdc).call()) // LEDGER_SCALE
            if got != expected:
                raise BenchError(f"hub account {account} holds {got}, expected {expected}: a deposit lost or doubled")
            _credited_so_far[account] = got


def relayer_code(ref: str) -> Path:
    """The `relayer` package of git ref `ref`, exported into a temporary directory."""
    out = Path(tempfile.mkdtemp(prefix=f"xmargin-relayer-{ref.replace('/', '_')}-"))
    archive = subprocess.run(["git", "archive", ref, "relayer"], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive, check=True)
    return out


def run(args: argparse.Namespace) -> Report:
    """Start the devnet (optionally with another ref's relayer), run every phase, stop it."""
    code = relayer_code(args.relayer_ref) if args.relayer_ref else ROOT
    os.environ["PYTHONPATH"] = os.pathsep.join([str(code), str(ROOT)])
    if args.relayer_ref:
        # The devnet starts its processes as `python -m relayer.cli` in this process's working
        # directory, which Python puts on sys.path before PYTHONPATH: from the checkout they would
        # import the checkout's relayer, whatever the ref. They start in the export instead, and
        # read the checkout's compiled contracts (the export has no build folder).
        args.out = args.out.resolve()
        os.environ.setdefault("XMARGIN_BUILD_DIR", str(ROOT / "build" / "contracts"))
        os.chdir(code)
    layout = DevnetLayout.from_env(dir=Path(tempfile.mkdtemp(prefix="xmargin-throughput-")),
                                   base_port=args.base_port, redis_url=args.redis_url)
    head = subprocess.run(["git", "rev-parse", "--short", args.relayer_ref or "HEAD"], cwd=ROOT,
                          capture_output=True, text=True, check=False).stdout.strip()
    report = Report(setup={"machine": f"{os.cpu_count()} cores (shared)",
                           "relayer_code": args.relayer_ref or "checkout",
                           "commit": head, "accounts_per_spoke": args.accounts, "block_time_s": layout.block_time,
                           "load_avg_before": load_avg()})
    with running_devnet(layout) as net:
        bench = Bench(net)
        groups = {p.name: p.pid for p in net.procs}
        print("warm-up: one deposit per spoke ...", flush=True)
        run_phase(bench, 2, 1, 1, groups)  # warm-up: one deposit per spoke (first scans, first batches)
        for rate, seconds in args.phases:
            print(f"phase: {rate} deposits/s for {seconds} s ...", flush=True)
            report.phases.append(run_phase(bench, rate, seconds, args.accounts, groups))
            print_phase(report.phases[-1])
            write(report, args.out)  # after every phase: a long run stopped later keeps what it measured
    return report


def write(report: Report, out: Path) -> None:
    """The report as JSON."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(asdict(report), indent=2) + "\n")


def print_phase(p: PhaseResult) -> None:
    """One phase as a few lines."""
    print(f"  {p.deposits} deposits at {p.rate}/s: sent in {p.send_s} s, drained {p.drain_s} s after the last send")
    print(f"  credited {p.steady_credit_per_s}/s steady (after {WARMUP_S:.0f} s), {p.overall_per_s}/s overall; "
          f"backlog max {p.backlog_max}")
    print(f"  lag s p50/p90/p99/max {p.lag_s.p50}/{p.lag_s.p90}/{p.lag_s.p99}/{p.lag_s.max}; overhead after "
          f"the floor (hub blocks) p50 {p.overhead_blocks.p50} p99 {p.overhead_blocks.p99}")
    print(f"  hub batches {p.hub_batches} (mean {p.batch_size_mean}, max {p.batch_size_max}), "
          f"hub gas/deposit {p.hub_gas_per_deposit}; loadavg {p.load_avg}")
    print("  CPU s: " + ", ".join(f"{k} {v}" for k, v in list(p.cpu_s.items())[:9]), flush=True)


def phase_arg(text: str) -> list[tuple[int, int]]:
    """'50x30,200x60' -> [(50, 30), (200, 60)]."""
    out = []
    for part in text.split(","):
        rate, _, secs = part.partition("x")
        if not rate.isdigit() or not secs.isdigit() or int(rate) < 2 or int(secs) < 1:
            raise argparse.ArgumentTypeError(f"phase {part!r} is not RATExSECONDS (rate >= 2)")
        out.append((int(rate), int(secs)))
    return out


def main(argv: list[str] | None = None) -> int:
    """Parse flags, run, print targets, write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    env = os.environ.get
    parser.add_argument("--phases", type=phase_arg, default=phase_arg("50x30,200x60"),
                        help="RATExSECONDS,... deposits/s across both spokes (default 50x30,200x60)")
    parser.add_argument("--accounts", type=int, default=4, help="sending accounts per spoke (default 4)")
    parser.add_argument("--relayer-ref", default=None, help="run the devnet's relayer from this git ref (e.g. main)")
    parser.add_argument("--base-port", type=int, default=int(env("XMARGIN_BENCH_BASE_PORT", "18650")))
    parser.add_argument("--redis-url", default=env("XMARGIN_BENCH_REDIS_URL", "redis://127.0.0.1:6379/6"))
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    try:
        report = run(args)
    except KeyboardInterrupt:
        print("interrupted; the devnet was stopped", file=sys.stderr)
        return 130
    except (BenchError, XmarginError) as err:
        print(f"throughput benchmark failed (the devnet was stopped): {err}", file=sys.stderr)
        return 1
    write(report, args.out)
    print(f"wrote {args.out}")
    return 0 if targets(report) else 1


def targets(report: Report) -> bool:
    """Print the issue's targets with the measured figures; True if all met."""
    ok = True
    for p in report.phases:
        if p.rate >= 200:
            met = p.steady_credit_per_s >= 200 and p.drain_s <= 10
            print(f"target >= 200 deposits/s sustained, lag bounded: {p.steady_credit_per_s}/s at {p.rate}/s, "
                  f"drain {p.drain_s} s -> {'met' if met else 'MISSED'}")
            ok &= met
        if p.rate == 50:
            met = p.overhead_blocks.p99 <= 2
            print(f"target p99 overhead <= 2 hub blocks at 50/s: {p.overhead_blocks.p99} -> "
                  f"{'met' if met else 'MISSED'}")
            ok &= met
    return ok


if __name__ == "__main__":
    sys.exit(main())
