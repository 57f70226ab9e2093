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
import bisect
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the relayer package of this checkout comes first

from eth_account import Account  # noqa: E402
from eth_account.signers.local import LocalAccount  # noqa: E402
from eth_utils import keccak  # noqa: E402
from web3 import Web3  # noqa: E402
from web3.logs import DISCARD  # noqa: E402

from relayer.api.views import Backend  # noqa: E402
from relayer.chain.contracts import load_artifact  # noqa: E402
from relayer.chain.routes import ProcessedBatch, RouteReader  # noqa: E402
from relayer.config import load_settings  # noqa: E402
from relayer.devnet.chains import rpc_call  # noqa: E402
from relayer.devnet.layout import USER_KEYS, DevnetLayout  # noqa: E402
from relayer.devnet.runner import Devnet  # noqa: E402
from relayer.errors import XmarginError  # noqa: E402
from relayer.types import RouteId, RouteKind  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "latency.json"
POLL_S = 0.1
"""Interval of every observation loop (receipts, processed nonces): the wall-clock resolution."""
TIP = 10**9
USDC_UNIT = 10**6
LEDGER_SCALE = 10**12  # 6-decimal USDC -> 18-decimal ledger asset
DEPOSIT_UNITS = 10 * USDC_UNIT
WITHDRAW_LEDGER_UNITS = 1 * USDC_UNIT * LEDGER_SCALE
TX_GAS = 300_000
BURST_TX_GAS = 150_000
"""Gas limit of a burst deposit (one uses at most ~67k): anvil packs
blocks by gas limit, so a tight limit lets the whole burst land in one block per spoke."""
PHASE_TIMEOUT_S = 120.0
PERCENTILES = (50, 90, 99)


class BenchError(RuntimeError):
    """The benchmark could not run or a relayed transfer went wrong (not credited, parked, lost)."""


# ----------------------------------------------------------------------------- pure maths


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} outside 0..100")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Summary:
    """Distribution of one latency figure."""

    n: int
    mean: float
    p50: float
    p90: float
    p99: float
    max: float


def summarize(values: Sequence[float]) -> Summary:
    """n, mean, p50, p90, p99 and max of some values (rounded to milliseconds)."""
    if not values:
        raise ValueError("summary of no values")
    p50, p90, p99 = (round(percentile(values, q), 3) for q in PERCENTILES)
    return Summary(n=len(values), mean=round(sum(values) / len(values), 3), p50=p50, p90=p90, p99=p99,
                   max=round(max(values), 3))


@dataclass(frozen=True)
class Floor:
    """The protocol floor of one route: the source block must be `confirmations` deep before
    validators sign it, then the destination includes the batch in its next block."""

    seconds: float
    blocks: float
    """In destination block times."""


def protocol_floor(confirmations: int, source_block_time: float, dest_block_time: float) -> Floor:
    """confirmations x source block time + one destination block."""
    if source_block_time <= 0 or dest_block_time <= 0 or confirmations < 0:
        raise ValueError("block times must be positive and confirmations non-negative")
    seconds = confirmations * source_block_time + dest_block_time
    return Floor(seconds=seconds, blocks=seconds / dest_block_time)


def times_floor(summary: Summary, floor: float) -> dict[str, float]:
    """p50, p90, p99 and max as multiples of the floor (same unit)."""
    return {k: round(getattr(summary, k) / floor, 2) for k in ("p50", "p90", "p99", "max")}


def crediting_batch(nonce: int, last_nonces: Sequence[int]) -> int:
    """Index of the first processed batch (ascending last nonces) that includes message `nonce`."""
    index = bisect.bisect_left(last_nonces, nonce)
    if index == len(last_nonces):
        raise LookupError(f"no processed batch includes nonce {nonce}")
    return index


def last_block_at_or_before(timestamp: int, low: int, high: int, timestamp_of: Callable[[int], int]) -> int:
    """Highest block in [low, high] whose timestamp <= `timestamp` (`low` if none is); timestamps ascend."""
    while low < high:
        mid = (low + high + 1) // 2
        if timestamp_of(mid) <= timestamp:
            low = mid
        else:
            high = mid - 1
    return low


@dataclass(frozen=True)
class Batches:
    """The destination batches that carried one phase's messages."""

    count: int
    mean_size: float
    sizes: list[int]
    gas_total: int
    gas_per_message: float


def batch_figures(sizes: Sequence[int], gas_used: Sequence[int], messages: int) -> Batches:
    """Number and mean size of batches, and destination gas per relayed message."""
    if len(sizes) != len(gas_used) or not sizes or messages <= 0:
        raise ValueError("need one gas figure per batch, at least one batch and one message")
    total = sum(gas_used)
    return Batches(count=len(sizes), mean_size=round(sum(sizes) / len(sizes), 2), sizes=list(sizes),
                   gas_total=total, gas_per_message=round(total / messages, 1))


def rate(count: int, seconds: float) -> float:
    """Messages per second (0 for an empty span)."""
    return round(count / seconds, 2) if seconds > 0 else 0.0


# ----------------------------------------------------------------------------- the devnet

_GUARD = """
import os, shutil, sys
sys.stdin.buffer.read()  # EOF: the benchmark exited, however it exited
if os.path.exists(sys.argv[2]):
    from relayer.devnet.layout import DevnetLayout
    from relayer.devnet.runner import stop_from_pid_file
    layout = DevnetLayout.model_validate_json(sys.argv[1])
    stop_from_pid_file(layout, report=lambda m: None)
    shutil.rmtree(layout.dir_abs, ignore_errors=True)
"""
"""Stops the devnet from its pid file (and removes its temporary directory) if the benchmark died
without tearing it down: SIGKILL, or bench/run.py killing it 0.25 s after Ctrl-C. The devnet's
processes live in their own sessions, so nothing else would stop them."""


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGTERM / SIGHUP behave like Ctrl-C: tear the devnet down."""
    raise KeyboardInterrupt


@contextmanager
def running_devnet(layout: DevnetLayout, keep_dir_on_error: bool = True) -> Iterator[Devnet]:
    """The devnet of `xmargin devnet up --no-scenario` on `layout`; always stopped at the end. Its
    directory (logs) is removed, unless something failed."""
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    guard = subprocess.Popen(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", _GUARD, layout.model_dump_json(), str(layout.pid_file)],
        stdin=subprocess.PIPE, start_new_session=True, env=os.environ.copy(),
    )
    net = Devnet(layout, report=lambda m: print(f"[devnet] {m}", flush=True))
    ok = False
    try:
        net.up()
        yield net
        ok = True
    except KeyboardInterrupt:
        ok = True  # nothing failed: no logs to keep
        raise
    finally:
        net.down()
        assert guard.stdin is not None
        guard.stdin.close()
        guard.wait(timeout=30)
        if ok or not keep_dir_on_error:
            shutil.rmtree(layout.dir_abs, ignore_errors=True)
        else:
            print(f"[devnet] logs kept in {layout.log_dir}", flush=True)


# ----------------------------------------------------------------------------- transactions


@dataclass
class Signer:
    """Signs one account's calls on one chain with local nonces and fees fixed at creation."""

    w3: Web3
    chain_id: int
    account: LocalAccount
    nonce: int = 0
    max_fee: int = 0

    @classmethod
    def of(cls, w3: Web3, chain_id: int, key: str) -> Signer:
        """A signer for `key` at its pending nonce, paying up to 4x today's base fee."""
        account = Account.from_key(key)
        base = int(w3.eth.get_block("latest")["baseFeePerGas"])
        return cls(w3, chain_id, account, w3.eth.get_transaction_count(account.address, "pending"), 4 * base + TIP)

    def sign(self, fn: Any, gas: int = TX_GAS) -> tuple[bytes, bytes]:
        """(raw transaction, hash) of a contract call with the next nonce; not sent."""
        tx = fn.build_transaction({
            "from": self.account.address, "nonce": self.nonce, "gas": gas, "chainId": self.chain_id,
            "maxFeePerGas": self.max_fee, "maxPriorityFeePerGas": TIP,
        })
        self.nonce += 1
        signed = self.account.sign_transaction(tx)
        return bytes(signed.raw_transaction), bytes(signed.hash)

    def send(self, fn: Any, gas: int = TX_GAS) -> bytes:
        """Sign and send a call; returns its hash."""
        raw, tx_hash = self.sign(fn, gas)
        self.w3.eth.send_raw_transaction(raw)
        return tx_hash


def wait_receipts(w3: Web3, hashes: Sequence[bytes], timeout_s: float = 60.0) -> list[Any]:
    """Receipts of every transaction (polled with a deadline); BenchError if one reverted."""
    deadline = time.monotonic() + timeout_s
    out = []
    for tx_hash in hashes:
        while True:
            try:
                receipt = w3.eth.get_transaction_receipt(tx_hash)
                break
            except Exception:  # noqa: BLE001 - not mined yet (TransactionNotFound)
                if time.monotonic() > deadline:
                    raise BenchError(f"tx 0x{tx_hash.hex()} not mined in {timeout_s:.0f}s") from None
                time.sleep(POLL_S)
        if receipt["status"] != 1:
            raise BenchError(f"tx 0x{tx_hash.hex()} reverted")
        out.append(receipt)
    return out


# ----------------------------------------------------------------------------- observation


@dataclass
class Transfer:
    """One deposit or withdrawal, as the benchmark saw it."""

    route: RouteId
    tx_hash: bytes
    sent_at: float
    """time.monotonic() when the transaction was handed to the node."""
    mined_seen_at: float | None = None
    """When its receipt was first seen."""
    done_seen_at: float | None = None
    """When the destination's processed nonce was first seen at or past its nonce."""
    nonce: int = 0
    block: int = 0


class Bench:
    """The running devnet's clients, route readers, block timestamps and the observation loop."""

    def __init__(self, net: Devnet) -> None:
        self.net = net
        self.backend = Backend(load_settings(net.layout.config_path))
        self.deployment = self.backend.deployment
        self.readers = {str(r): RouteReader(r, self.deployment, self.backend.clients) for r in self.deployment.routes()}
        self.deposit_routes = {r.source_chain_id: r for r in self.deployment.routes() if r.kind is RouteKind.DEPOSIT}
        self.withdrawal_routes = {r.dest_chain_id: r for r in self.deployment.routes() if r.kind is RouteKind.WITHDRAWAL}
        self._timestamps: dict[tuple[int, int], int] = {}

    def w3(self, chain_id: int) -> Web3:
        """web3 of a chain."""
        return self.backend.client(chain_id).w3

    def head(self, chain_id: int) -> int:
        """Latest block number of a chain."""
        return int(self.backend.client(chain_id).block_number())

    def timestamp(self, chain_id: int, number: int) -> int:
        """Timestamp of a block (cached: blocks do not change on a devnet without reorgs)."""
        key = (chain_id, number)
        if key not in self._timestamps:
            self._timestamps[key] = int(self.backend.client(chain_id).get_block(number)["timestamp"])
        return self._timestamps[key]

    def check_alive(self) -> None:
        """BenchError naming a devnet process that exited on its own."""
        dead = self.net.dead()
        if dead:
            raise BenchError(f"{dead[0].name} exited with {dead[0].popen.returncode}:\n{dead[0].log_tail()}")

    def _record_receipt(self, item: Transfer, receipt: Any) -> None:
        """Route nonce and block of a mined deposit / withdrawal request."""
        if receipt["status"] != 1:
            raise BenchError(f"tx 0x{item.tx_hash.hex()} on {item.route} reverted")
        source = self.readers[str(item.route)].source
        event = source.events.Deposited() if item.route.kind is RouteKind.DEPOSIT else source.events.WithdrawalQueued()
        (log,) = event.process_receipt(receipt, errors=DISCARD)
        item.nonce, item.block = int(log["args"]["nonce"]), int(receipt["blockNumber"])

    def observe(self, items: Sequence[Transfer]) -> None:
        """One round: receipts of unmined items, processed nonces of routes with undelivered items."""
        now = time.monotonic
        for item in items:
            if item.mined_seen_at is None:
                w3 = self.w3(item.route.source_chain_id)
                try:
                    receipt = w3.eth.get_transaction_receipt(item.tx_hash)
                except Exception:  # noqa: BLE001 - not mined yet
                    continue
                item.mined_seen_at = now()
                self._record_receipt(item, receipt)
        waiting = {str(i.route) for i in items if i.mined_seen_at is not None and i.done_seen_at is None}
        for route in waiting:
            processed = self.readers[route].dest_state().nonce
            seen = now()
            for item in items:
                if str(item.route) == route and item.mined_seen_at is not None and item.done_seen_at is None \
                        and item.nonce <= processed:
                    item.done_seen_at = seen

    def drive(self, items: list[Transfer], send: Callable[[int], Transfer], count: int, pace_s: float) -> None:
        """Send `count` transfers `pace_s` apart (0: at once) while observing; return when all are done."""
        start = time.monotonic()
        deadline = start + count * pace_s + PHASE_TIMEOUT_S
        sent = 0
        while sent < count or any(i.done_seen_at is None for i in items):
            while sent < count and time.monotonic() >= start + sent * pace_s:
                items.append(send(sent))
                sent += 1
            self.observe(items)
            self.check_alive()
            if time.monotonic() > deadline:
                late = [f"{i.route}#{i.nonce}" for i in items if i.done_seen_at is None]
                raise BenchError(f"not delivered within {PHASE_TIMEOUT_S:.0f}s of the last send: {', '.join(late[:10])}")
            time.sleep(POLL_S)

    def crediting(self, items: Sequence[Transfer], from_blocks: dict[int, int]) -> dict[int, tuple[ProcessedBatch, int]]:
        """For each item (by index): the destination batch (ProcessedBatch) that carried it and the
        destination block whose timestamp is the last at or before the item's source block."""
        out: dict[int, tuple[ProcessedBatch, int]] = {}
        by_route: dict[str, list[int]] = {}
        for index, item in enumerate(items):
            by_route.setdefault(str(item.route), []).append(index)
        for route, indices in by_route.items():
            reader = self.readers[route]
            dest = reader.route.dest_chain_id
            low = from_blocks[dest]
            batches = sorted(reader.scan_processed(low, self.head(dest)), key=lambda b: b.last_nonce)
            last_nonces = [b.last_nonce for b in batches]
            for index in indices:
                item = items[index]
                batch = batches[crediting_batch(item.nonce, last_nonces)]
                if batch.last_nonce - batch.count >= item.nonce:
                    raise BenchError(f"{route} nonce {item.nonce} was processed before {low}: phases overlap")
                source_ts = self.timestamp(reader.route.source_chain_id, item.block)
                start = last_block_at_or_before(source_ts, low, batch.block_number, lambda n, d=dest: self.timestamp(d, n))
                out[index] = (batch, start)
        return out

    def gas_used(self, chain_id: int, tx_hash: bytes) -> int:
        """gasUsed of a transaction."""
        return int(self.w3(chain_id).eth.get_transaction_receipt(tx_hash)["gasUsed"])

    def batches(self, items: Sequence[Transfer], credit: dict[int, tuple[ProcessedBatch, int]]) -> Batches:
        """The distinct destination batches that carried `items`, with their gas."""
        distinct: dict[bytes, tuple[int, int]] = {}
        for index, item in enumerate(items):
            batch = credit[index][0]
            distinct[batch.tx_hash] = (item.route.dest_chain_id, batch.count)
        gas = [self.gas_used(chain, tx) for tx, (chain, _) in distinct.items()]
        return batch_figures([size for _, size in distinct.values()], gas, len(items))


# ----------------------------------------------------------------------------- phases


@dataclass
class Phase:
    """The transfers of one paced phase, its warm-up ones, and every chain's head when it began."""

    warmup: list[Transfer]
    items: list[Transfer]
    from_blocks: dict[int, int]


@dataclass
class LatencyResult:
    """Latency of one kind of transfer sent one at a time."""

    what: str
    count: int
    pace_s: float
    floor: Floor
    chain_s: Summary
    """Source block timestamp -> destination block timestamp of the batch that applied it."""
    blocks: Summary
    """Destination blocks from the one at the source block's time to the applying one."""
    wall_s: Summary
    """Receipt seen -> destination processed nonce seen (polled every POLL_S)."""
    sent_to_done_s: Summary
    """Transaction handed to the node -> processed nonce seen: what a user waits."""
    vs_floor: dict[str, float]
    """chain_s percentiles as multiples of floor.seconds."""
    batches: Batches
    warmup_sent_to_done_s: list[float]
    """The first transfer of each route (cold: first scans and first batch), not in the figures above."""


def latency_result(bench: Bench, what: str, phase: Phase, pace_s: float, floor: Floor) -> LatencyResult:
    """Chain and wall-clock latencies of delivered items."""
    items = phase.items
    credit = bench.crediting(items, phase.from_blocks)
    chain_s, blocks = [], []
    for index, item in enumerate(items):
        batch, start = credit[index]
        dest = item.route.dest_chain_id
        chain_s.append(bench.timestamp(dest, batch.block_number) - bench.timestamp(item.route.source_chain_id, item.block))
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
    return {c: bench.head(c) for c in bench.backend.clients}


def beneficiary(label: str) -> str:
    """A deterministic hub account nobody holds (credits only ever go to it)."""
    return Web3.to_checksum_address(keccak(text=f"xmargin-bench-latency-{label}")[12:])


def _usdc(bench: Bench, chain_id: int) -> Any:
    """The spoke's USDC (MockERC20: anyone may mint)."""
    return bench.w3(chain_id).eth.contract(address=bench.deployment.tokens[chain_id]["USDC"].address,
                                           abi=load_artifact("MockERC20").abi)


def depositors(bench: Bench, keys: dict[int, list[str]]) -> dict[int, list[Signer]]:
    """Signers per spoke with gas, minted USDC and the lockbox approved (not timed)."""
    out: dict[int, list[Signer]] = {}
    for chain_id, chain_keys in keys.items():
        w3, usdc = bench.w3(chain_id), _usdc(bench, chain_id)
        lockbox = bench.backend.lockbox(chain_id).address
        url = bench.backend.settings.chain(chain_id).rpc_urls[0]
        hashes = []
        for key in chain_keys:
            signer = Signer.of(w3, chain_id, key)
            rpc_call(url, "anvil_setBalance", [signer.account.address, hex(10**21)])
            hashes.append(signer.send(usdc.functions.mint(signer.account.address, 10**9 * USDC_UNIT)))
            hashes.append(signer.send(usdc.functions.approve(lockbox, 2**255)))
            out.setdefault(chain_id, []).append(signer)
        wait_receipts(w3, hashes)
    return out


def deposit_fn(bench: Bench, chain_id: int, account: str) -> Any:
    """A USDC deposit call on a spoke for hub `account`."""
    lockbox = bench.backend.lockbox(chain_id)
    return lockbox.functions.deposit(bench.deployment.tokens[chain_id]["USDC"].address, DEPOSIT_UNITS, account)


def paced_deposits(bench: Bench, count: int, pace_s: float, account: str) -> Phase:
    """One deposit per route to warm up (waited for), then `count` alternating spokes `pace_s` apart."""
    spokes = sorted(bench.deposit_routes)
    signers = {s: d[0] for s, d in depositors(bench, {s: [k] for s, k in zip(spokes, USER_KEYS.values())}).items()}

    ledger, usdc_id = bench.backend.ledger(), bench.deployment.assets["USDC"]
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
    ledger = bench.backend.ledger()
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


@dataclass
class BurstResult:
    """N deposits sent at once from several accounts over both spokes."""

    deposits: int
    accounts: int
    send_s: float
    """First send -> last send returned (wall)."""
    all_done_s: float
    """First send -> the hub's processed nonces seen covering every deposit (wall)."""
    deposits_per_s: float
    """deposits / all_done_s."""
    chain_span_s: int
    """First deposit's block timestamp -> last applying hub batch's block timestamp."""
    chain_deposits_per_s: float
    spoke_blocks: dict[str, int]
    """Spoke blocks the deposits landed in."""
    spoke_gas_max: int
    """Highest gasUsed of a burst deposit (must stay below BURST_TX_GAS)."""
    hub_batch_offsets_s: list[int]
    """Block timestamps of the hub batches, in seconds after the first deposit's block: a gap before
    the first shows finality and validation, the spacing the submitter (one batch per block)."""
    latency_s: Summary
    """Per deposit: its block timestamp -> its hub batch's block timestamp."""
    floor: Floor
    vs_floor: dict[str, float]
    batches: Batches
    """Hub batches, mean size, hub gas per credited deposit (every deposit to a new balance)."""


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
    ledger = bench.backend.ledger()
    usdc_id = bench.deployment.assets["USDC"]
    for i in range(count):
        got = int(ledger.functions.balanceOf(beneficiary(f"burst-{i}"), usdc_id).call())
        if got != DEPOSIT_UNITS * LEDGER_SCALE:
            raise BenchError(f"burst beneficiary {i} holds {got}, expected {DEPOSIT_UNITS * LEDGER_SCALE}")


# ----------------------------------------------------------------------------- report


@dataclass
class Report:
    """Everything measured; written as bench/results/latency.json."""

    setup: dict[str, Any]
    deposits: LatencyResult | None = None
    burst: BurstResult | None = None
    withdrawals: LatencyResult | None = None
    runtime_s: dict[str, float] = field(default_factory=dict)


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


def _row(label: str, s: Summary, unit: str, floor: float | None = None) -> str:
    """One table row: p50, p90, p99, max (and p50/p90 as multiples of the floor)."""
    row = f"  {label:<34} {s.p50:>7.2f} {s.p90:>7.2f} {s.p99:>7.2f} {s.max:>7.2f}  {unit}"
    if floor:
        row += f"   p50 = {s.p50 / floor:.1f}x floor, p90 = {s.p90 / floor:.1f}x"
    return row


def print_latency(r: LatencyResult) -> None:
    """The table of one paced phase."""
    route = "source confirmations x block time + 1 destination block"
    print(f"\n{r.what.capitalize()}s, one at a time: {r.count} alternating spokes, {r.pace_s:g} s apart "
          f"(floor {r.floor.seconds:g} s = {r.floor.blocks:g} blocks: {route})")
    print(f"  {'':<34} {'p50':>7} {'p90':>7} {'p99':>7} {'max':>7}")
    print(_row("block time -> applying block", r.chain_s, "s", r.floor.seconds))
    print(_row("same, in destination blocks", r.blocks, "blocks", r.floor.blocks))
    print(_row("receipt seen -> applied seen (wall)", r.wall_s, "s", r.floor.seconds))
    print(_row("sent -> applied seen (wall)", r.sent_to_done_s, "s"))
    b = r.batches
    print(f"  batches {b.count}, mean size {b.mean_size:g}, destination gas per message {b.gas_per_message:,.0f}; "
          f"warm-up (first per route, not above): sent -> applied {r.warmup_sent_to_done_s} s")


def print_table(report: Report) -> None:
    """The report as plain text tables."""
    s = report.setup
    print(f"\nxmargin relayer latency ({s['machine']}, 1-min load {s['load_avg_1m']}; block time {s['block_time_s']} s, "
          f"{s['confirmations']} confirmations; {s['relayer']})")
    if report.deposits:
        print_latency(report.deposits)
    if report.burst:
        b = report.burst
        print(f"\nBurst: {b.deposits} deposits from {b.accounts} accounts over both spokes (new hub balances)")
        print(f"  sent in {b.send_s:.2f} s, landing in spoke blocks {b.spoke_blocks} (spoke gas <= {b.spoke_gas_max:,})")
        print(f"  all credited {b.all_done_s:.1f} s after the first send: {b.deposits_per_s:.1f} deposits/s "
              f"(block timestamps: {b.chain_span_s} s, {b.chain_deposits_per_s:.1f}/s)")
        print(f"  hub batches {b.batches.count} (sizes {b.batches.sizes}), mean size {b.batches.mean_size:g}, "
              f"hub gas per credited deposit {b.batches.gas_per_message:,.0f}")
        print(f"  hub batches landed {b.hub_batch_offsets_s} s after the first deposit's block")
        print(f"  {'':<34} {'p50':>7} {'p90':>7} {'p99':>7} {'max':>7}")
        print(_row("per deposit: block -> hub block", b.latency_s, "s", b.floor.seconds))
    if report.withdrawals:
        print_latency(report.withdrawals)
    print(f"\nruntime: {report.runtime_s}")


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
