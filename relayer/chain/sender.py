"""The one transaction sender: EIP-1559 fees, nonces under a lock, receipt wait with typed errors,
replacement of a stuck transaction (same nonce, bumped fees). Every role, the CLI, the API actions
and the devnet deployer send through it."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress, HexStr
from hexbytes import HexBytes
from pydantic import BaseModel, ConfigDict, Field
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.datastructures import AttributeDict
from web3.exceptions import ContractCustomError, ContractLogicError, TransactionNotFound, Web3RPCError
from web3.types import RPCEndpoint, TxParams, TxReceipt, Wei

from relayer.chain.abi import revert_data
from relayer.chain.nonces import NonceManager
from relayer.errors import CallRevertedError, NonceTakenError, TransactionRevertedError, TransactionStuckError
from relayer.types import ChainId, Nonce, checksum

log = logging.getLogger(__name__)

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
    drop_check_s: float = Field(default=1.0, gt=0)
    """How often an unmined transaction is looked up in the node's pool: one the node no longer
    knows (dropped, evicted, node restarted) is re-sent at once instead of after `stuck_after_s`,
    since every later nonce of the account waits behind it."""
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

    return Fees(max_fee_per_gas=up(fees.max_fee_per_gas), max_priority_fee_per_gas=up(fees.max_priority_fee_per_gas))


@dataclass(frozen=True)
class TxRequest:
    """What to send: a call (or a deployment when `to` is None) and, optionally, its gas limit."""

    to: str | None
    data: bytes = b""
    value: int = 0
    gas: int | None = None
    """None: estimated (eth_estimateGas plus the policy's margin)."""
    what: str = "transaction"
    """Short description for logs and errors (e.g. the function name)."""

    @classmethod
    def call(cls, fn: ContractFunction, value: int = 0, gas: int | None = None) -> TxRequest:
        """A bound contract function call."""
        data = fn._encode_transaction_data()
        return cls(to=fn.address, data=bytes.fromhex(data[2:]), value=value, gas=gas, what=fn.fn_name)


@dataclass
class PendingTx:
    """A broadcast transaction not yet known to be mined: every attempt shares its nonce."""

    request: TxRequest
    gas: int
    nonce: Nonce
    fees: Fees
    attempts: list[str]
    """Hashes of every attempt (the first, then each replacement)."""
    started: float
    replacements: int = 0
    """Replacement rounds so far (bounded by the policy's max_replacements)."""
    last_sent: float = 0.0
    """When the latest attempt was broadcast (the stuck timer restarts there)."""
    checked: float = 0.0
    """When the node's pool was last asked whether it still knows an attempt."""


@dataclass(frozen=True)
class SentTx:
    """What was sent and how it ended."""

    nonce: Nonce
    tx_hash: str
    """Hash of the mined attempt."""
    attempts: tuple[str, ...]
    status: int
    block_number: int
    gas_used: int
    contract_address: str | None
    receipt: TxReceipt = field(repr=False)


class TxSender:
    """Signs locally and sends from one account on one chain, replacing stuck transactions."""

    def __init__(
        self,
        w3: Web3,
        account: LocalAccount,
        chain_id: ChainId,
        nonces: NonceManager,
        policy: FeePolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        chain: str = "",
        raw_receipts: bool = False,
    ) -> None:
        self.w3 = w3
        self.raw_receipts = raw_receipts
        """Read receipts unformatted (status, block, gas and hash typed; logs as the node sent
        them): for senders that never read a receipt's logs, like the submitter's."""
        self.account = account
        self.chain_id = chain_id
        self.chain = chain or str(chain_id)
        self.nonces = nonces
        self.policy = policy or FeePolicy()
        self._clock = clock

    @property
    def address(self) -> ChecksumAddress:
        """The sending account."""
        return self.account.address

    def _fields(self, **more: Any) -> dict[str, Any]:
        """Structured log fields of this sender."""
        return {"chain": self.chain, "sender": self.address, **more}

    def current_fees(self) -> Fees:
        """Fees for a first attempt, from the node's latest block and tip suggestion."""
        base_fee = int(self.w3.eth.get_block("latest").get("baseFeePerGas", 0))
        try:
            tip = int(self.w3.eth.max_priority_fee)
        except (Web3RPCError, ValueError):
            tip = 0
        return initial_fees(base_fee, tip, self.policy)

    def estimate_gas(self, request: TxRequest) -> int:
        """eth_estimateGas plus the policy's margin; CallRevertedError (with the revert data) if the
        call would revert."""
        params: TxParams = {
            "from": self.address,
            "data": HexStr("0x" + request.data.hex()),
            "value": Wei(request.value),
        }
        if request.to is not None:
            params["to"] = checksum(request.to)
        try:
            estimate = int(self.w3.eth.estimate_gas(params))
        except (ContractCustomError, ContractLogicError) as err:
            message = getattr(err, "message", None) or str(err)
            raise CallRevertedError(self.chain, request.what, revert_data(err), message) from err
        return estimate * (100 + self.policy.gas_margin_pct) // 100

    def _build(self, request: TxRequest, gas: int, nonce: int, fees: Fees) -> dict[str, Any]:
        """The full type-2 transaction dict for signing."""
        tx: dict[str, Any] = {
            "type": 2,
            "chainId": self.chain_id,
            "nonce": nonce,
            "data": request.data,
            "value": request.value,
            "gas": gas,
            "maxFeePerGas": fees.max_fee_per_gas,
            "maxPriorityFeePerGas": fees.max_priority_fee_per_gas,
        }
        if request.to is not None:
            tx["to"] = checksum(request.to)
        return tx

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

    def submit(self, request: TxRequest, fees: Fees | None = None) -> PendingTx:
        """Broadcast `request` with the sender's next nonce, without waiting (see `wait`)."""
        gas = request.gas if request.gas is not None else self.estimate_gas(request)
        fees = fees or self.current_fees()
        with self.nonces.reserve() as nonce:
            tx_hash = self._broadcast(self._build(request, gas, nonce, fees))
        log.info(
            "%s sent: nonce %d, tx %s", request.what, nonce, tx_hash, extra=self._fields(nonce=nonce, tx_hash=tx_hash)
        )
        now = self._clock()
        return PendingTx(request, gas, nonce, fees, [tx_hash], now, last_sent=now, checked=now)

    def wait(self, pending: PendingTx) -> SentTx:
        """The receipt of whichever attempt is mined, replacing the transaction (same nonce, bumped
        fees) each time it stays unmined for `stuck_after_s` or the node drops it;
        TransactionStuckError after `max_replacements`."""
        while True:
            sent = self.poll(pending)
            if sent is not None:
                return sent
            time.sleep(self.policy.poll_s)

    def poll(self, pending: PendingTx) -> SentTx | None:
        """One look without waiting: the mined attempt's summary, or None. An attempt unmined for
        `stuck_after_s`, or one the node's pool no longer knows, is replaced (same nonce, bumped
        fees) first; TransactionStuckError once `max_replacements` rounds went unmined;
        NonceTakenError if another transaction of the account was mined with its nonce."""
        receipt = self._receipt_of(pending.attempts)
        if receipt is not None:
            return self._sent(pending, receipt)
        now = self._clock()
        stuck = now - pending.last_sent >= self.policy.stuck_after_s
        dropped = False
        if not stuck and now - pending.checked >= self.policy.drop_check_s:
            pending.checked = now
            dropped = not self._known(pending.attempts)
            if dropped:  # a receipt may have appeared between the two looks
                receipt = self._receipt_of(pending.attempts)
                if receipt is not None:
                    return self._sent(pending, receipt)
                if int(self.w3.eth.get_transaction_count(self.address, "latest")) > pending.nonce:
                    raise NonceTakenError(self.chain, pending.attempts[-1], pending.nonce)
        if stuck or dropped:
            self._replace(pending, "dropped by the node" if dropped else "stuck")
        return None

    def _replace(self, pending: PendingTx, why: str) -> None:
        """One replacement round: same nonce, fees bumped; TransactionStuckError when none is left."""
        if pending.replacements >= self.policy.max_replacements:
            waited = self._clock() - pending.started
            raise TransactionStuckError(self.chain, pending.attempts[-1], waited)
        pending.replacements += 1
        pending.last_sent = pending.checked = self._clock()
        pending.fees = bump(pending.fees, self.policy.bump_pct)
        try:
            tx_hash = self._broadcast(self._build(pending.request, pending.gas, pending.nonce, pending.fees))
        except Web3RPCError as err:
            if not any(text in str(err).lower() for text in _REPLACEMENT_REFUSED):
                raise
            # an earlier attempt was mined meanwhile (the next look finds its receipt), or
            # this node wants a larger bump (the next round raises the fees again)
            return
        pending.attempts.append(tx_hash)
        log.warning(
            "%s %s: replaced with tx %s (max fee %d)",
            pending.request.what,
            why,
            tx_hash,
            pending.fees.max_fee_per_gas,
            extra=self._fields(nonce=pending.nonce, tx_hash=tx_hash),
        )

    def send(self, request: TxRequest, fees: Fees | None = None) -> SentTx:
        """Submit and wait; the result carries the receipt status (0: reverted on chain)."""
        return self.wait(self.submit(request, fees))

    def transact(self, fn: ContractFunction, value: int = 0, gas: int | None = None) -> SentTx:
        """Send a contract call and require success: CallRevertedError if its simulation reverts,
        TransactionRevertedError if the mined transaction does."""
        sent = self.send(TxRequest.call(fn, value=value, gas=gas))
        if sent.status != 1:
            raise TransactionRevertedError(self.chain, fn.fn_name, sent.tx_hash)
        return sent

    def _receipt_of(self, hashes: list[str]) -> TxReceipt | None:
        """The receipt of whichever attempt was mined (latest attempt first), or None."""
        for tx_hash in reversed(hashes):
            if self.raw_receipts:
                receipt = self._raw_receipt(tx_hash)
                if receipt is None:
                    continue
                return receipt
            try:
                return self.w3.eth.get_transaction_receipt(cast(HexStr, tx_hash))
            except TransactionNotFound:
                continue
        return None

    def _raw_receipt(self, tx_hash: str) -> TxReceipt | None:
        """A receipt read unformatted, its summary fields typed here and its logs left as the node
        sent them (web3 formats every log of a 300-deposit batch: ~0.3 s of CPU per receipt)."""
        response = self.w3.provider.make_request(RPCEndpoint("eth_getTransactionReceipt"), [tx_hash])
        error = response.get("error") if isinstance(response, dict) else None
        if error is not None:
            raise Web3RPCError(str(error))
        raw = response.get("result") if isinstance(response, dict) else None
        if raw is None:
            return None
        created = raw.get("contractAddress")
        return cast(TxReceipt, AttributeDict({
            **raw, "status": int(raw["status"], 16), "blockNumber": int(raw["blockNumber"], 16),
            "gasUsed": int(raw["gasUsed"], 16), "transactionHash": HexBytes(raw["transactionHash"]),
            "contractAddress": checksum(created) if created else None,
        }))

    def _known(self, hashes: list[str]) -> bool:
        """True if the node knows any attempt (in its pool or mined)."""
        for tx_hash in reversed(hashes):
            try:
                self.w3.eth.get_transaction(cast(HexStr, tx_hash))
            except TransactionNotFound:
                continue
            return True
        return False

    def _sent(self, pending: PendingTx, receipt: TxReceipt) -> SentTx:
        """Summary of the mined attempt."""
        tx_hash = "0x" + bytes(receipt["transactionHash"]).hex()
        status = int(receipt["status"])
        level = logging.INFO if status == 1 else logging.WARNING
        log.log(
            level,
            "%s mined in block %d with status %d: tx %s",
            pending.request.what,
            int(receipt["blockNumber"]),
            status,
            tx_hash,
            extra=self._fields(nonce=pending.nonce, tx_hash=tx_hash),
        )
        created = receipt.get("contractAddress")
        return SentTx(
            nonce=pending.nonce,
            tx_hash=tx_hash,
            attempts=tuple(pending.attempts),
            status=status,
            block_number=int(receipt["blockNumber"]),
            gas_used=int(receipt["gasUsed"]),
            contract_address=str(created) if created else None,
            receipt=receipt,
        )
