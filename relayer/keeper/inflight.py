"""Liquidations in flight (issue 10): the keeper broadcasts many liquidation transactions without
waiting for each receipt, then collects the receipts. Nonces, fees, replacement of a stuck or
dropped transaction and the receipt look-ups are the submitter's machinery (relayer.chain.sender:
`TxSender.submit` / `poll`, nonces from relayer.chain.nonces); this module adds only what a keeper
needs on top: a cap on the transactions in flight and on the gas sent per hub block.

Loads in the brownie environment like the liquidator (web3, eth_account, pydantic)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field
from web3 import Web3

from relayer.chain.sender import TxRequest

MAX_KEEPER_IN_FLIGHT = 256
"""Upper bound of `FlightCaps.max_in_flight` (the keeper's config allows less)."""
MAX_PREPARE_AHEAD = 32
"""Upper bound of `FlightCaps.prepare_ahead` (threads of one keeper simulating at once)."""
FEES_FOR_S = 1.0
"""How long one fee reading serves a burst of liquidations (about a hub block)."""


class FlightCaps(BaseModel):
    """How much one keeper keeps in flight."""

    model_config = ConfigDict(frozen=True)

    max_in_flight: int = Field(default=32, ge=1, le=MAX_KEEPER_IN_FLIGHT)
    """Liquidation transactions sent and not yet mined at once (consecutive nonces of the keeper)."""
    block_gas_share: float = Field(default=0.5, gt=0, le=1)
    """Share of a hub block's gas limit this keeper's liquidations may take per block, counted in
    the gas their simulations used: a node takes a transaction while its gas limit fits in what the
    block has left and gives the unused gas back, so a block fills by gas used, not by limits. The
    keeper never floods one block and leaves room for other users. A liquidation alone above the
    budget is still sent, as the only one of its block."""
    poll_s: float = Field(default=0.05, gt=0)
    """Pause between two looks when nothing can be sent and nothing was mined."""
    prepare_ahead: int = Field(default=1, ge=1, le=MAX_PREPARE_AHEAD)
    """Accounts claimed and simulated (`eth_estimateGas`) at once on worker threads ahead of their
    send, in shortfall order: the simulations overlap each other and the receipts' polling instead
    of running one after another. Each simulation sees the chain as mined, without the liquidations
    still in flight (as with 1). 1: one at a time, on the keeper's thread (the stress bench's
    deterministic replay)."""


@dataclass(frozen=True)
class Landed:
    """A mined liquidation transaction."""

    tx_hash: str
    status: int
    gas_used: int
    gas_limit: int


class Pipeline(Protocol):
    """Broadcasts calls without waiting and reports each one once mined.

    `poll` raises relayer.errors.NonceTakenError (another transaction took the nonce) or
    TransactionStuckError (unmined after every fee bump) when the transaction is lost; the keeper
    then calls `resync` so that its next nonce comes from the chain's pending count again."""

    def submit(self, call: Any, gas: int) -> Any:
        """Broadcast `call` with gas limit `gas`; a handle for `poll`."""
        ...

    def poll(self, handle: Any) -> Landed | None:
        """One look: the mined transaction, or None while it is pending."""
        ...

    def hash_of(self, handle: Any) -> str:
        """The latest attempt's transaction hash (for logs)."""
        ...

    def resync(self) -> None:
        """Forget any remembered nonce: the next comes from the chain."""
        ...


class TxPipeline:
    """The relayer's pipeline: relayer.chain.sender.TxSender signs locally, hands out consecutive
    nonces under its (Redis) nonce lock, re-sends a dropped attempt and bumps a stuck one."""

    def __init__(self, sender: Any, fees_for_s: float = FEES_FOR_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.sender = sender
        self._fees_for_s = fees_for_s
        self._clock = clock
        self._fees: tuple[float, Any] | None = None

    def submit(self, call: Any, gas: int) -> Any:
        """`TxSender.submit` of the bound call (returns its PendingTx), with fees read at most once
        per `fees_for_s` (two node round trips saved per transaction of a burst)."""
        now = self._clock()
        if self._fees is None or now - self._fees[0] >= self._fees_for_s:
            self._fees = (now, self.sender.current_fees())
        return self.sender.submit(TxRequest.call(call, gas=gas), self._fees[1])

    def poll(self, handle: Any) -> Landed | None:
        """`TxSender.poll`: replaces a stuck or dropped attempt on the way."""
        sent = self.sender.poll(handle)
        if sent is None:
            return None
        return Landed(sent.tx_hash, sent.status, sent.gas_used, int(handle.gas))

    def hash_of(self, handle: Any) -> str:
        """The latest attempt."""
        return str(handle.attempts[-1])

    def resync(self) -> None:
        """`NonceManager.resync`."""
        self.sender.nonces.resync()


class SendPipeline:
    """A blocking `Send` (send and wait; the stress bench's unlocked account, brownie's tests) seen
    as a pipeline: each submit has already landed, so one transaction is in flight at a time."""

    def __init__(self, w3: Web3, send: Any) -> None:
        self.w3 = w3
        self._send = send

    def submit(self, call: Any, gas: int) -> Any:
        """Sends and waits: the handle is (tx hash, status)."""
        return self._send(call, gas)

    def poll(self, handle: Any) -> Landed | None:
        """The landed transaction (its gas limit read back: a send may cap it)."""
        tx_hash, status = handle
        used = int(self.w3.eth.get_transaction_receipt(tx_hash)["gasUsed"])
        return Landed(str(tx_hash), int(status), used, int(self.w3.eth.get_transaction(tx_hash)["gas"]))

    def hash_of(self, handle: Any) -> str:
        """The sent transaction."""
        return str(handle[0])

    def resync(self) -> None:
        """Nothing to forget: the node's account sends."""


class BlockBudget:
    """Gas sent while the hub's latest block is the same (each transaction counted at its simulated
    gas, see `FlightCaps.block_gas_share`): at most `share` of the block's gas limit. Reads the
    chain only once something is to be sent."""

    def __init__(self, w3: Web3, share: float) -> None:
        self.w3 = w3
        self.share = share
        self.limit = 0
        self.block = -1
        self.used = 0

    def fits(self, gas: int) -> bool:
        """Whether `gas` more may be sent now (a new block resets the budget)."""
        if self.block < 0:
            latest = self.w3.eth.get_block("latest")
            self.limit = int(int(latest["gasLimit"]) * self.share)
            self.block = int(latest["number"])
        if self.used and self.used + gas > self.limit:
            block = int(self.w3.eth.block_number)
            if block != self.block:
                self.block, self.used = block, 0
        return self.used == 0 or self.used + gas <= self.limit

    def spend(self, gas: int) -> None:
        """Count a transaction just sent."""
        self.used += gas
