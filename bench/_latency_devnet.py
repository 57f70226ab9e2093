"""The devnet harness of bench/latency.py: a devnet that always stops, signers, and the observer
that timestamps sends, receipts and the batches that applied them."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the relayer package of this checkout comes first

from eth_account import Account  # noqa: E402
from eth_account.signers.local import LocalAccount  # noqa: E402
from eth_typing import Hash32  # noqa: E402
from web3 import Web3  # noqa: E402
from web3.exceptions import TransactionNotFound  # noqa: E402
from web3.logs import DISCARD  # noqa: E402

from relayer.chain.routes import ProcessedBatch  # noqa: E402
from relayer.context import Context  # noqa: E402
from relayer.devnet.layout import DevnetLayout  # noqa: E402
from relayer.devnet.runner import Devnet  # noqa: E402
from relayer.errors import BenchError  # noqa: E402
from relayer.types import ChainId, RouteId, RouteKind  # noqa: E402

from _latency_stats import Batches, batch_figures, crediting_batch, last_block_at_or_before  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "latency.json"
POLL_S = 0.1
"""Interval of every observation loop (receipts, processed nonces): the wall-clock resolution."""
TIP = 10**9
USDC_UNIT = 10**6
LEDGER_SCALE = 10**12  # 6-decimal USDC -> 18-decimal ledger asset
DEPOSIT_UNITS = 10 * USDC_UNIT
WITHDRAW_LEDGER_UNITS = 1 * USDC_UNIT * LEDGER_SCALE
TX_GAS = 1_000_000
"""Gas limit of single transfers: a withdrawal now runs the risk engine's margin check (oracle reads
and every market, cold on first use), well above the 61k of a bare request; gas is free here."""
BURST_TX_GAS = 150_000
"""Gas limit of a burst deposit (one uses at most ~67k): anvil packs
blocks by gas limit, so a tight limit lets the whole burst land in one block per spoke."""
PHASE_TIMEOUT_S = 120.0


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
    chain_id: ChainId
    account: LocalAccount
    nonce: int = 0
    max_fee: int = 0

    @classmethod
    def of(cls, w3: Web3, chain_id: ChainId, key: str) -> Signer:
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
                receipt = w3.eth.get_transaction_receipt(Hash32(tx_hash))
                break
            except TransactionNotFound:  # not mined yet
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
        self.ctx = Context.from_file(net.layout.config_path)
        self.deployment = self.ctx.deployment
        self.readers = {str(r): self.ctx.route_reader(r) for r in self.deployment.routes()}
        self.deposit_routes = {r.source_chain_id: r for r in self.deployment.routes() if r.kind is RouteKind.DEPOSIT}
        self.withdrawal_routes = {
            r.dest_chain_id: r for r in self.deployment.routes() if r.kind is RouteKind.WITHDRAWAL
        }
        self._timestamps: dict[tuple[int, int], int] = {}

    def w3(self, chain_id: int) -> Web3:
        """web3 of a chain."""
        return self.ctx.client(chain_id).w3

    def head(self, chain_id: int) -> int:
        """Latest block number of a chain."""
        return int(self.ctx.client(chain_id).block_number())

    def timestamp(self, chain_id: int, number: int) -> int:
        """Timestamp of a block (cached: blocks do not change on a devnet without reorgs)."""
        key = (chain_id, number)
        if key not in self._timestamps:
            self._timestamps[key] = int(self.ctx.client(chain_id).get_block(number)["timestamp"])
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
                    receipt = w3.eth.get_transaction_receipt(Hash32(item.tx_hash))
                except TransactionNotFound:  # not mined yet
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
                raise BenchError(
                    f"not delivered within {PHASE_TIMEOUT_S:.0f}s of the last send: {', '.join(late[:10])}"
                )
            time.sleep(POLL_S)

    def crediting(
        self, items: Sequence[Transfer], from_blocks: dict[int, int]
    ) -> dict[int, tuple[ProcessedBatch, int]]:
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
                start = last_block_at_or_before(source_ts, low, batch.block_number, partial(self.timestamp, dest))
                out[index] = (batch, start)
        return out

    def gas_used(self, chain_id: int, tx_hash: bytes) -> int:
        """gasUsed of a transaction."""
        return int(self.w3(chain_id).eth.get_transaction_receipt(Hash32(tx_hash))["gasUsed"])

    def batches(self, items: Sequence[Transfer], credit: dict[int, tuple[ProcessedBatch, int]]) -> Batches:
        """The distinct destination batches that carried `items`, with their gas."""
        distinct: dict[bytes, tuple[int, int]] = {}
        for index, item in enumerate(items):
            batch = credit[index][0]
            distinct[batch.tx_hash] = (item.route.dest_chain_id, batch.count)
        gas = [self.gas_used(chain, tx) for tx, (chain, _) in distinct.items()]
        return batch_figures([size for _, size in distinct.values()], gas, len(items))


