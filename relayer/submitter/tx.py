"""Send a transaction with EIP-1559 fees, wait for it, replace it (same nonce, bumped fees) if stuck."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from eth_account.signers.local import LocalAccount
from pydantic import BaseModel, ConfigDict, Field
from web3 import Web3
from web3.exceptions import TransactionNotFound, Web3RPCError
from web3.types import TxReceipt

from relayer.errors import TransactionStuckError
from relayer.submitter.nonce import NonceManager

MIN_BUMP_PCT = 10
"""Nodes accept a same-nonce replacement only if both fee fields rise by at least 10%."""
_REPLACEMENT_REFUSED = (
    "already known",
    "nonce too low",
    "nonce has already been used",
    "replacement transaction underpriced",
)
"""Node answers to a replacement that mean: keep waiting for the earlier attempts (one was mined,
or the bump was not enough for this node; the next round bumps again)."""


class FeePolicy(BaseModel):
    """How fees are set and raised."""

    model_config = ConfigDict(frozen=True)

    base_fee_multiplier: int = Field(default=2, ge=1)
    """maxFeePerGas = multiplier * baseFee + tip: room for base-fee rises over a few blocks."""
    min_priority_fee: int = Field(default=1_000_000, ge=0)
    """Floor for the tip (wei), when the node suggests less."""
    bump_pct: int = Field(default=12, ge=MIN_BUMP_PCT)
    """Raise of both fee fields per replacement (nodes require >= 10%)."""
    stuck_after_s: float = Field(default=30.0, gt=0)
    """Time without a receipt after which the transaction is replaced."""
    max_replacements: int = Field(default=3, ge=0)
    """Replacements before giving up (TransactionStuckError): bounded, never endless."""
    poll_s: float = Field(default=0.2, gt=0)
    gas_margin_pct: int = Field(default=20, ge=0)
    """Added to eth_estimateGas."""


class Fees(BaseModel):
    """The two EIP-1559 fee fields of one transaction."""

    model_config = ConfigDict(frozen=True)

    max_fee_per_gas: int = Field(ge=0)
    max_priority_fee_per_gas: int = Field(ge=0)


def initial_fees(base_fee: int, suggested_tip: int, policy: FeePolicy) -> Fees:
    """Fees for a first attempt from the latest base fee and the node's suggested tip."""
    tip = max(suggested_tip, policy.min_priority_fee)
    return Fees(max_fee_per_gas=policy.base_fee_multiplier * base_fee + tip, max_priority_fee_per_gas=tip)


def bump(fees: Fees, pct: int) -> Fees:
    """Both fields raised by at least max(pct, 10)% (rounded up, and by at least 1 wei)."""
    pct = max(pct, MIN_BUMP_PCT)

    def up(value: int) -> int:
        return max(value + 1, math.ceil(value * (100 + pct) / 100))

    return Fees(
        max_fee_per_gas=up(fees.max_fee_per_gas), max_priority_fee_per_gas=up(fees.max_priority_fee_per_gas)
    )


class SentTx(BaseModel):
    """What was sent and how it ended."""

    model_config = ConfigDict(frozen=True)

    nonce: int
    tx_hash: str
    """Hash of the mined attempt."""
    attempts: tuple[str, ...]
    """Hashes of every attempt (the first, then each replacement)."""
    status: int
    block_number: int
    gas_used: int


class TxSender:
    """Signs locally and sends from one account on one chain, replacing stuck transactions."""

    def __init__(
        self,
        w3: Web3,
        account: LocalAccount,
        chain_id: int,
        nonces: NonceManager,
        policy: FeePolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.w3 = w3
        self.account = account
        self.chain_id = chain_id
        self.nonces = nonces
        self.policy = policy or FeePolicy()
        self._clock = clock

    def current_fees(self) -> Fees:
        """Fees for a first attempt, from the node's latest block and tip suggestion."""
        base_fee = int(self.w3.eth.get_block("latest").get("baseFeePerGas", 0))
        try:
            tip = int(self.w3.eth.max_priority_fee)
        except (Web3RPCError, ValueError):
            tip = 0
        return initial_fees(base_fee, tip, self.policy)

    def estimate_gas(self, tx: dict[str, Any]) -> int:
        """eth_estimateGas plus the policy's margin."""
        estimate = int(self.w3.eth.estimate_gas({**tx, "from": self.account.address}))
        return estimate * (100 + self.policy.gas_margin_pct) // 100

    def _build(self, tx: dict[str, Any], nonce: int, fees: Fees) -> dict[str, Any]:
        """The full type-2 transaction dict for signing."""
        return {
            "type": 2,
            "chainId": self.chain_id,
            "nonce": nonce,
            "to": tx["to"],
            "data": tx.get("data", b""),
            "value": tx.get("value", 0),
            "gas": tx["gas"],
            "maxFeePerGas": fees.max_fee_per_gas,
            "maxPriorityFeePerGas": fees.max_priority_fee_per_gas,
        }

    def _broadcast(self, tx: dict[str, Any]) -> str:
        """Sign and send one attempt; returns its hash (already-known counts as sent)."""
        signed = self.account.sign_transaction(tx)
        tx_hash = "0x" + bytes(signed.hash).hex()
        try:
            self.w3.eth.send_raw_transaction(signed.raw_transaction)
        except Web3RPCError as err:
            if "already known" not in str(err).lower():
                raise
        return tx_hash

    def send(self, tx: dict[str, Any], fees: Fees | None = None) -> SentTx:
        """Send `tx` ({to, data, value?, gas?}) and wait for it to be mined, replacing it with the
        same nonce and bumped fees each time it stays unmined for `stuck_after_s`."""
        if "gas" not in tx:
            tx = {**tx, "gas": self.estimate_gas(tx)}
        fees = fees or self.current_fees()
        with self.nonces.reserve() as nonce:
            attempts = [self._broadcast(self._build(tx, nonce, fees))]
        started = self._clock()
        for replacement in range(self.policy.max_replacements + 1):
            receipt = self._wait_any(attempts, self.policy.stuck_after_s)
            if receipt is not None:
                return self._sent(nonce, attempts, receipt)
            if replacement == self.policy.max_replacements:
                break
            fees = bump(fees, self.policy.bump_pct)
            try:
                attempts.append(self._broadcast(self._build(tx, nonce, fees)))
            except Web3RPCError as err:
                if not any(text in str(err).lower() for text in _REPLACEMENT_REFUSED):
                    raise
                # an earlier attempt was mined meanwhile (the next wait finds its receipt), or
                # this node wants a larger bump (the next round raises the fees again)
        raise TransactionStuckError(str(self.chain_id), attempts[-1], self._clock() - started)

    def _wait_any(self, hashes: list[str], timeout_s: float) -> TxReceipt | None:
        """The receipt of whichever attempt was mined, polling until `timeout_s` passes."""
        deadline = self._clock() + timeout_s
        while True:
            for tx_hash in reversed(hashes):
                try:
                    return self.w3.eth.get_transaction_receipt(tx_hash)
                except TransactionNotFound:
                    continue
            if self._clock() >= deadline:
                return None
            time.sleep(self.policy.poll_s)

    @staticmethod
    def _sent(nonce: int, attempts: list[str], receipt: TxReceipt) -> SentTx:
        """Summary of the mined attempt."""
        return SentTx(
            nonce=nonce,
            tx_hash="0x" + bytes(receipt["transactionHash"]).hex(),
            attempts=tuple(attempts),
            status=int(receipt["status"]),
            block_number=int(receipt["blockNumber"]),
            gas_used=int(receipt["gasUsed"]),
        )
