"""The soak's load: paced USDC deposits on both spokes from several funded accounts, paced
withdrawals from one hub account back to both spokes, and the books of what each beneficiary and
recipient must end up with. Everything is sent to the nodes directly (never through the proxy)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from eth_utils import keccak
from web3 import Web3

from relayer.chain.abi import load_artifact
from relayer.context import Context
from relayer.devnet._proc import poll
from relayer.devnet.chains import rpc_call
from relayer.types import ChainId, RouteKind

from _latency_devnet import Signer, wait_receipts

USDC = 10**6
SCALE = 10**12  # 6-decimal USDC -> 18-decimal ledger units
DEPOSIT_GAS = 200_000
WITHDRAW_GAS = 1_000_000  # the risk engine's margin check runs in requestWithdrawal
BENEFICIARIES = 64
RECIPIENTS = 16
PREFUND_TIMEOUT_S = 180.0


def address_of(label: str) -> str:
    """A deterministic address nobody holds a key for (credits and releases only ever go to it)."""
    return Web3.to_checksum_address(keccak(text=f"xmargin-soak-{label}")[12:])


def key_of(label: str) -> str:
    """A deterministic throwaway key (funded by the soak on its own devnet)."""
    return "0x" + keccak(text=f"xmargin-soak-key-{label}").hex()


def deposit_units(i: int) -> int:
    """Amount of deposit `i` (token units): 1 to 7 USDC."""
    return (1 + i % 7) * USDC


def withdrawal_units(i: int) -> int:
    """Amount of withdrawal `i` (token units): 1 to 3 USDC."""
    return (1 + i % 3) * USDC


@dataclass
class Books:
    """What the chains must show at the end, built from what was really sent (and mined)."""

    credits: dict[str, int] = field(default_factory=dict)
    """hub beneficiary -> ledger units deposited for it."""
    releases: dict[tuple[int, str], int] = field(default_factory=dict)
    """(spoke, recipient) -> token units withdrawn to it."""
    deposits: dict[int, int] = field(default_factory=dict)
    """spoke -> deposits sent by the soak (setup, load and reorg rounds)."""
    withdrawals: dict[int, int] = field(default_factory=dict)
    """spoke -> withdrawals requested by the soak."""
    withdrawn_ledger_units: int = 0
    dropped: list[str] = field(default_factory=list)
    """Beneficiaries of deposits a reorg removed for good: they must never be credited."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def deposit(self, spoke: int, beneficiary: str, units: int) -> None:
        with self.lock:
            self.credits[beneficiary] = self.credits.get(beneficiary, 0) + units * SCALE
            self.deposits[spoke] = self.deposits.get(spoke, 0) + 1

    def withdrawal(self, spoke: int, recipient: str, units: int) -> None:
        with self.lock:
            self.releases[(spoke, recipient)] = self.releases.get((spoke, recipient), 0) + units
            self.withdrawals[spoke] = self.withdrawals.get(spoke, 0) + 1
            self.withdrawn_ledger_units += units * SCALE


class Traffic:
    """Funded signers, the sending threads and the books."""

    def __init__(self, ctx: Context, accounts_per_spoke: int) -> None:
        self.ctx = ctx
        self.books = Books()
        self.hub: ChainId = ctx.deployment.hub.chain_id
        self.spokes: list[ChainId] = sorted(
            r.source_chain_id for r in ctx.deployment.routes() if r.kind is RouteKind.DEPOSIT
        )
        self.usdc = {s: self._usdc(s) for s in self.spokes}
        self.baseline = {str(r): ctx.route_reader(r).source_state("latest").nonce for r in ctx.deployment.routes()}
        """Every route's source nonce before the soak sent anything (the deployment's own deposits)."""
        self.pause = {s: threading.Lock() for s in self.spokes}
        """Held by a spoke's sender around each send, and by a reorg for its whole length."""
        self.signers = {s: self._fund(s, [key_of(f"depositor-{s}-{i}") for i in range(accounts_per_spoke)])
                        for s in self.spokes}
        self.victims = {s: self._fund(s, [key_of(f"victim-{s}")])[0] for s in self.spokes}
        self.withdrawer = self._fund_hub(key_of("withdrawer"))
        self.errors: list[BaseException] = []
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    # ------------------------------------------------------------------------ set-up

    def w3(self, chain_id: int) -> Web3:
        return self.ctx.client(chain_id).w3

    def url(self, chain_id: int) -> str:
        return self.ctx.settings.chain(ChainId(chain_id)).rpc_urls[0]

    def _usdc(self, chain_id: ChainId) -> Any:
        address = Web3.to_checksum_address(self.ctx.deployment.tokens[chain_id]["USDC"].address)
        return self.w3(chain_id).eth.contract(address=address, abi=load_artifact("MockERC20").abi)

    def _fund(self, chain_id: ChainId, keys: list[str]) -> list[Signer]:
        """Signers with gas, a billion minted USDC and the lockbox approved."""
        w3, usdc, lockbox = self.w3(chain_id), self.usdc[chain_id], self.ctx.lockbox(chain_id).address
        out, hashes = [], []
        for key in keys:
            signer = Signer.of(w3, chain_id, key)
            rpc_call(self.url(chain_id), "anvil_setBalance", [signer.account.address, hex(10**21)])
            hashes.append(signer.send(usdc.functions.mint(signer.account.address, 10**9 * USDC)))
            hashes.append(signer.send(usdc.functions.approve(lockbox, 2**255)))
            out.append(signer)
        wait_receipts(w3, hashes)
        return out

    def _fund_hub(self, key: str) -> Signer:
        signer = Signer.of(self.w3(self.hub), self.hub, key)
        rpc_call(self.url(self.hub), "anvil_setBalance", [signer.account.address, hex(10**21)])
        return signer

    def deposit_call(self, chain_id: ChainId, units: int, beneficiary: str) -> Any:
        token = self.ctx.deployment.tokens[chain_id]["USDC"].address
        return self.ctx.lockbox(chain_id).functions.deposit(token, units, beneficiary)

    def prefund_withdrawer(self, units_per_spoke: int) -> None:
        """Credit the withdrawer's hub account from every spoke (so each spoke has the liquidity its
        withdrawals need) and wait until the hub holds it (before any fault)."""
        account = self.withdrawer.account.address
        for spoke in self.spokes:
            signer = self.signers[spoke][0]
            wait_receipts(signer.w3, [signer.send(self.deposit_call(spoke, units_per_spoke, account), DEPOSIT_GAS)])
            self.books.deposit(spoke, account, units_per_spoke)
        expected = self.books.credits[account]
        poll(lambda: self.hub_balance(account) == expected, "the withdrawer's prefund to be credited",
             PREFUND_TIMEOUT_S, interval_s=0.5)

    def hub_balance(self, account: str) -> int:
        ledger = self.ctx.ledger()
        return int(ledger.functions.balanceOf(account, self.ctx.deployment.assets["USDC"]).call())

    # ------------------------------------------------------------------------ load

    def start(self, deposits: int, withdrawals: int, duration_s: float) -> None:
        """Start one sender per spoke (deposits split evenly) and one for withdrawals, each pacing its
        sends evenly over `duration_s`."""
        start = time.monotonic()
        for k, spoke in enumerate(self.spokes):
            count = deposits // len(self.spokes) + (k < deposits % len(self.spokes))
            self._thread(f"deposits-{spoke}", self._deposits, spoke, count, start, duration_s)
        self._thread("withdrawals", self._withdrawals, withdrawals, start, duration_s)

    def _thread(self, name: str, target: Any, *args: Any) -> None:
        def run() -> None:
            try:
                target(*args)
            except BaseException as err:  # noqa: BLE001 - reported by the main thread
                self.errors.append(err)

        thread = threading.Thread(target=run, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def _pace(self, start: float, i: int, count: int, duration_s: float) -> bool:
        """Wait for send `i`'s slot; False if the soak is stopping."""
        slot = start + duration_s * i / max(count, 1)
        while time.monotonic() < slot:
            if self.stop.wait(min(0.05, slot - time.monotonic())):
                return False
        return not self.stop.is_set()

    def _deposits(self, spoke: ChainId, count: int, start: float, duration_s: float) -> None:
        signers = self.signers[spoke]
        for i in range(count):
            if not self._pace(start, i, count, duration_s):
                return
            beneficiary = address_of(f"beneficiary-{i % BENEFICIARIES}")
            units = deposit_units(i)
            signer = signers[i % len(signers)]
            with self.pause[spoke]:
                raw, _ = signer.sign(self.deposit_call(spoke, units, beneficiary), DEPOSIT_GAS)
                signer.w3.eth.send_raw_transaction(raw)
            self.books.deposit(spoke, beneficiary, units)

    def _withdrawals(self, count: int, start: float, duration_s: float) -> None:
        ledger, asset = self.ctx.ledger(), self.ctx.deployment.assets["USDC"]
        for i in range(count):
            if not self._pace(start, i, count, duration_s):
                return
            spoke = self.spokes[i % len(self.spokes)]
            recipient = address_of(f"recipient-{i % RECIPIENTS}")
            units = withdrawal_units(i)
            raw, _ = self.withdrawer.sign(ledger.functions.requestWithdrawal(asset, units * SCALE, spoke, recipient),
                                          WITHDRAW_GAS)
            self.withdrawer.w3.eth.send_raw_transaction(raw)
            self.books.withdrawal(spoke, recipient, units)

    def done(self) -> bool:
        """Whether every sender finished."""
        return not any(t.is_alive() for t in self.threads)

    def halt(self) -> None:
        """Stop sending (on failure)."""
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=10)

    # ------------------------------------------------------------------------ reorgs

    @contextmanager
    def paused(self, spoke: ChainId) -> Iterator[None]:
        """No load on `spoke` meanwhile, and every transaction sent to it so far is mined."""
        with self.pause[spoke]:
            w3 = self.w3(spoke)
            for signer in self.signers[spoke]:
                address, nonce = signer.account.address, signer.nonce

                def mined(address: str = address, nonce: int = nonce) -> bool:
                    return int(w3.eth.get_transaction_count(Web3.to_checksum_address(address), "latest")) == nonce

                poll(mined, f"{address}'s sent transactions to be mined", 60.0, interval_s=0.2)
            yield

    def reorg(self, spoke: ChainId, depth: int, round_no: int, block_time: int, kept: int = 6) -> dict[str, Any]:
        """A shallow reorg of `spoke`: with interval mining paused, `kept` deposits and one victim
        deposit go into the next block, `depth` - 1 more blocks follow (short of finality), then
        `anvil_reorg` replaces those `depth` blocks with new ones holding only the kept deposits.
        The victim's deposit is gone for good: its beneficiary must never be credited."""
        url = self.url(spoke)
        victim, victim_for = self.victims[spoke], address_of(f"reorg-victim-{spoke}-{round_no}")
        with self.paused(spoke):
            before = int(self.w3(spoke).eth.block_number)
            rpc_call(url, "evm_setIntervalMining", [0])
            try:
                kept_raw = []
                for j in range(kept):
                    signer = self.signers[spoke][j % len(self.signers[spoke])]
                    units = deposit_units(j)
                    raw, _ = signer.sign(self.deposit_call(spoke, units, address_of(f"reorg-kept-{j}")), DEPOSIT_GAS)
                    kept_raw.append(raw)
                    rpc_call(url, "eth_sendRawTransaction", ["0x" + raw.hex()])
                victim_raw, _ = victim.sign(self.deposit_call(spoke, USDC, victim_for), DEPOSIT_GAS)
                rpc_call(url, "eth_sendRawTransaction", ["0x" + victim_raw.hex()])
                for _ in range(depth):
                    rpc_call(url, "evm_mine")
                rpc_call(url, "anvil_reorg", [depth, [["0x" + raw.hex(), 0] for raw in kept_raw]])
            finally:
                rpc_call(url, "evm_setIntervalMining", [block_time])
            victim.nonce -= 1  # its transaction no longer exists
            for j in range(kept):
                self.books.deposit(spoke, address_of(f"reorg-kept-{j}"), deposit_units(j))
            self.books.dropped.append(victim_for)
        return {"spoke": spoke, "depth": depth, "from_block": before + 1, "kept": kept, "dropped": 1}
