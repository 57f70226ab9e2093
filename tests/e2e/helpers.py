"""End-to-end helpers: pipelined deposits, fresh beneficiary accounts, route waits (all polls with deadlines)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3

from relayer.context import Context
from relayer.devnet._proc import poll
from relayer.services.routes import RouteStatus, route_status
from relayer.types import NATIVE_TOKEN, RouteId, RouteKind

CATCH_UP_TIMEOUT_S = 120.0
"""Generous for a loaded 2-core machine; a healthy devnet catches up in seconds."""
GAS = 300_000
TIP = 10**9


def fresh_account(label: str) -> str:
    """A deterministic, never-funded hub account per test: its balance is exactly what the test deposited."""
    return Account.from_key(keccak(text=f"xmargin-e2e-account-{label}")).address


@dataclass
class Depositor:
    """Sends many deposits from one funded key on one spoke, back to back (local nonces)."""

    ctx: Context
    chain_id: int
    key: str
    account: LocalAccount = field(init=False)
    nonce: int = field(init=False)

    def __post_init__(self) -> None:
        self.account = Account.from_key(self.key)
        self.w3 = self.ctx.client(self.chain_id).w3
        self.lockbox = self.ctx.lockbox(self.chain_id)
        self.nonce = self.w3.eth.get_transaction_count(self.account.address, "pending")

    def token(self, symbol: str) -> str:
        """Address of a deployment token on this spoke."""
        return self.ctx.deployment.tokens[self.chain_id][symbol].address

    def signed(self, fn: Any, value: int = 0) -> tuple[bytes, bytes]:
        """(raw tx, hash) of a call, signed with the next local nonce; not sent."""
        base = int(self.w3.eth.get_block("latest")["baseFeePerGas"])
        tx = fn.build_transaction(
            {
                "from": self.account.address, "value": value, "nonce": self.nonce, "gas": GAS,
                "chainId": self.chain_id, "maxFeePerGas": 3 * base + TIP, "maxPriorityFeePerGas": TIP,
            }
        )
        self.nonce += 1
        signed = self.account.sign_transaction(tx)
        return bytes(signed.raw_transaction), bytes(signed.hash)

    def deposit_tx(self, symbol: str, units: int, beneficiary: str) -> tuple[bytes, bytes]:
        """A signed deposit of `units` (token units) of `symbol` for `beneficiary`."""
        token = self.token(symbol)
        if token == NATIVE_TOKEN:
            return self.signed(self.lockbox.functions.depositNative(beneficiary), value=units)
        return self.signed(self.lockbox.functions.deposit(token, units, beneficiary))

    def approve_all(self) -> None:
        """Approve the lockbox for every ERC20 of this spoke (once per session)."""
        hashes = []
        for symbol, info in self.ctx.deployment.tokens[self.chain_id].items():
            if info.address == NATIVE_TOKEN:
                continue
            erc20 = self.ctx.erc20(self.chain_id, info.address)
            raw, tx_hash = self.signed(erc20.functions.approve(self.lockbox.address, 2**255))
            self.w3.eth.send_raw_transaction(raw)
            hashes.append(tx_hash)
        self.wait(hashes)

    def send(self, deposits: list[tuple[str, int, str]]) -> list[bytes]:
        """Send deposits (symbol, units, beneficiary) back to back; returns their hashes."""
        hashes = []
        for symbol, units, beneficiary in deposits:
            raw, tx_hash = self.deposit_tx(symbol, units, beneficiary)
            self.w3.eth.send_raw_transaction(raw)
            hashes.append(tx_hash)
        return hashes

    def wait(self, hashes: list[bytes], timeout_s: float = 30.0) -> None:
        """Poll until every transaction is mined successfully."""
        for tx_hash in hashes:
            receipt = poll(lambda h=tx_hash: self.w3.eth.get_transaction_receipt(h), "deposit receipt", timeout_s)
            assert receipt["status"] == 1, f"tx 0x{tx_hash.hex()} reverted"


def deposit_routes(ctx: Context) -> list[RouteId]:
    """The deposit route of every spoke."""
    return [r for r in ctx.deployment.routes() if r.kind is RouteKind.DEPOSIT]


def wait_caught_up(ctx: Context, routes: list[RouteId], timeout_s: float = CATCH_UP_TIMEOUT_S) -> list[RouteStatus]:
    """Poll until every route's destination processed everything its source had (at the time of the check)."""

    def check() -> list[RouteStatus] | None:
        statuses = [route_status(ctx, r) for r in routes]
        return statuses if all(s.caught_up for s in statuses) else None

    return poll(check, f"routes {', '.join(map(str, routes))} to catch up", timeout_s, interval_s=0.5)


def wait_processed_beyond(ctx: Context, routes: list[RouteId], nonces: dict[RouteId, int], timeout_s: float = 60.0) -> None:
    """Poll until some route's processed nonce moved past the given one (the relayer is mid-run)."""

    def check() -> bool:
        return any(route_status(ctx, r).processed_nonce > nonces[r] for r in routes)

    poll(check, "the submitter to process part of the deposits", timeout_s, interval_s=0.2)


def hub_balance(ctx: Context, account: str, asset: str) -> int:
    """Ledger balance of `account` in `asset` (ledger units)."""
    ledger = ctx.ledger()
    return int(ledger.functions.balanceOf(account, ctx.deployment.assets[asset]).call())


def processed_counts(ctx: Context, route: RouteId) -> int:
    """Sum of `count` over every DepositsProcessed event of a deposit route (each message exactly once)."""
    reader = ctx.route_reader(route)
    head = int(reader.dest_client.block_number())
    return sum(batch.count for batch in reader.scan_processed(0, head))


def to_checksum(address: str) -> str:
    """Checksummed address."""
    return Web3.to_checksum_address(address)
