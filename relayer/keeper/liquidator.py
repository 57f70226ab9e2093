"""Find unhealthy accounts with paged lens eth_calls and liquidate the largest shortfall first, each
with gas sized from an estimate; tolerate competing keepers; an out-of-gas revert is its own error.

Loads in the brownie environment (the stress bench and the contract tests use it): it imports
web3, pydantic and relayer.chain.abi only, never the settings or the store."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Protocol

from eth_typing import HexStr
from pydantic import BaseModel
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError

from relayer.chain.abi import decode_error, revert_data
from relayer.errors import KeeperError, LockUnavailableError
from relayer.keeper.deleverager import Deleverager
from relayer.keeper.feeds import FeedSyncer
from relayer.keeper.settler import OrderSettler
from relayer.keeper.tracker import AccountTracker

log = logging.getLogger(__name__)

# Reverts that mean "someone else got there first" (or prices moved): skip, never retry blindly.
BENIGN_ERRORS = frozenset({"LiquidationAccountHealthy", "LiquidationPricesNotFresh"})
LIQUIDATOR_SHORT = "LiquidatorBelowInitialMargin"
"""The keeper's own ledger balance cannot pay for the collateral: it still closes positions."""
LENS_PAGE = 100
"""Accounts per `MarginLens.scan` eth_call: ~120k gas each with two markets (bench/margin_gas.py),
so a page stays far below the common 50M eth_call cap even for accounts holding many markets."""
LIQUIDATION_GAS = 3_000_000
"""Default gas of a `send` given no limit (order settlements); liquidations size theirs."""
GAS_MARGIN_PCT = 125
GAS_MARGIN_FIXED = 50_000
"""A liquidation's gas limit: its eth_estimateGas x 1.25 + 50k (state may move before it lands)."""
MAX_LIQUIDATION_GAS = 25_000_000
"""Never above this (a 30M hub block must still take it)."""
OUT_OF_GAS_SHARE = 0.9
"""A reverted liquidation that used this share of its limit or more ran out of gas (the 1/64 kept
back at each nested call leaves a few % unused); a competitor's revert uses at most 1/1.25 of a
limit sized from the estimate."""


class Send(Protocol):
    """Sends a bound contract call with a gas limit (None: the sender's default) and waits for it:
    (tx hash, receipt status). The relayer's keeper signs with its key through
    relayer.chain.sender (relayer.context builds it); the stress bench uses an unlocked node
    account (bench/_unlocked.py)."""

    def __call__(self, call: Any, gas: int | None = None, /) -> tuple[str, int]: ...


Claim = Callable[[str], AbstractContextManager[object]]
"""Holds one account's liquidation for this keeper while it simulates and sends; raises
LockUnavailableError when another keeper holds it (relayer.context: a Redis lease per account),
so keepers sharing a store never send the same liquidation twice."""


def _no_claim(account: str) -> AbstractContextManager[object]:
    """A lone keeper claims nothing."""
    return nullcontext(account)


class KeeperRound(BaseModel):
    """Outcome of one keeper pass."""

    checked: int = 0
    """Accounts checked through the lens."""
    unhealthy: int = 0
    """Accounts the lens reported liquidatable."""
    sent: list[str] = []
    """Transaction hashes of liquidations sent."""
    liquidated: list[str] = []
    """Accounts whose liquidation this keeper got mined successfully."""
    skipped_claimed: int = 0
    """Accounts another keeper was liquidating (its lease held): left to it."""
    skipped_benign: int = 0
    """Accounts a simulation showed already handled (competing keeper) or not liquidatable now."""
    reverted: int = 0
    """Sent liquidations that reverted on-chain (a competitor's landed between simulation and inclusion)."""
    out_of_gas: list[str] = []
    """Accounts whose sent liquidation ran out of gas (its own error: never "a competitor was first")."""
    failed: dict[str, str] = {}
    """Account -> custom error of a simulation that reverted for a reason that is not benign."""
    orders_settled: int = 0
    """Delayed orders this keeper settled (for the reward) in this pass."""
    orders_cancelled: int = 0
    """Expired orders this keeper cancelled (escrow back to the trader) in this pass."""
    adl_needed: bool = False
    """The LP vault needed auto-deleveraging at the start of this pass."""
    deleveraged: list[str] = []
    """`market:account` of every profitable position this keeper deleveraged in this pass."""
    feeds_synced: list[int] = []
    """Aggregator feeds whose anchor this keeper advanced (`syncFeed`) in this pass."""
    feeds_latched: list[int] = []
    """Aggregator feeds this pass's sync latched Invalid (a jump beyond `maxMoveBps`): governance must act."""


class Keeper:
    """One keeper: `run_once` = refresh accounts, batch health check, simulate, send."""

    def __init__(self, w3: Web3, sender: str, tracker: AccountTracker, lens: Any, module: Any,
                 send: Send, max_repay: int = 2**256 - 1, settler: OrderSettler | None = None,
                 deleverager: Deleverager | None = None, claim: Claim = _no_claim,
                 feeds: FeedSyncer | None = None) -> None:
        self.w3 = w3
        self.sender = Web3.to_checksum_address(sender)
        self.tracker = tracker
        self.lens = lens
        self.module = module
        self.max_repay = max_repay
        self._send = send
        self.settler = settler
        self.deleverager = deleverager
        self.feeds = feeds
        self._claim = claim

    def unhealthy_accounts(self) -> tuple[int, list[str]]:
        """(accounts checked, liquidatable accounts, largest shortfall first): one `MarginLens.scan`
        eth_call per LENS_PAGE accounts."""
        self.tracker.refresh()
        accounts = sorted(self.tracker.accounts)
        found: list[tuple[int, str]] = []
        offset = 0
        while offset < len(accounts):
            page, shortfalls, offset = self.lens.functions.scan(accounts, offset, LENS_PAGE).call()
            found += [(int(gap), str(a)) for a, gap in zip(page, shortfalls, strict=True)]
        found.sort(key=lambda f: (-f[0], f[1]))
        return len(accounts), [a for _, a in found]

    def _ran_out_of_gas(self, tx_hash: str) -> bool:
        """Whether a reverted transaction used (nearly) all of its own gas limit."""
        h = HexStr(tx_hash)
        used = int(self.w3.eth.get_transaction_receipt(h)["gasUsed"])
        return used >= int(self.w3.eth.get_transaction(h)["gas"]) * OUT_OF_GAS_SHARE

    def gas_limit(self, call: Any) -> int:
        """The estimate with its margin, capped at MAX_LIQUIDATION_GAS."""
        estimate = int(call.estimate_gas({"from": self.sender}))
        return min(estimate * GAS_MARGIN_PCT // 100 + GAS_MARGIN_FIXED, MAX_LIQUIDATION_GAS)

    def _revert_name(self, err: Exception) -> str:
        """Custom error name of a simulated revert, by the liquidation module's ABI ('' if unknown)."""
        error = decode_error(revert_data(err), [self.module.abi])
        return error.name if error is not None else ""

    def _simulate(self, account: str) -> tuple[Any, str]:
        """(call to send or None, revert name): the liquidation with max_repay, or positions only
        when the keeper cannot afford the collateral but the account still has positions."""
        call = self.module.functions.liquidate(account, self.max_repay)
        try:
            call.call({"from": self.sender})
            return call, ""
        except (ContractCustomError, ContractLogicError, ValueError) as err:
            name = self._revert_name(err) or str(err)
        if name != LIQUIDATOR_SHORT or not self.lens.functions.healthOf([account]).call()[0][5]:
            return None, name
        positions_only = self.module.functions.liquidate(account, 0)
        try:
            positions_only.call({"from": self.sender})
            return positions_only, ""
        except (ContractCustomError, ContractLogicError, ValueError) as err:
            return None, self._revert_name(err) or str(err)

    def liquidate(self, checked: int, unhealthy: list[str]) -> KeeperRound:
        """Simulates then sends a liquidation per account, waiting for each receipt so the next
        simulation sees it. One a competitor already made (the simulation reverts with a benign
        error) is skipped; any other revert is recorded in `failed` and the round goes on."""
        result = KeeperRound(checked=checked, unhealthy=len(unhealthy))
        for account in unhealthy:
            try:
                with self._claim(account):
                    self._liquidate_one(account, result)
            except LockUnavailableError:
                result.skipped_claimed += 1
                log.info("liquidation of %s left to another keeper (its lease is held)", account,
                         extra={"account": account, "sender": self.sender})
        return result

    def _liquidate_one(self, account: str, result: KeeperRound) -> None:
        """Simulates, sizes gas from the estimate, sends and records the outcome in `result`."""
        call, error = self._simulate(account)
        if call is None:
            if error in BENIGN_ERRORS:
                result.skipped_benign += 1
            else:
                result.failed[account] = error
            return
        gas = self.gas_limit(call)
        tx_hash, status = self._send(call, gas)
        result.sent.append(tx_hash)
        fields = {"account": account, "tx_hash": tx_hash, "sender": self.sender, "gas": gas}
        if status == 1:
            result.liquidated.append(account)
            log.info("liquidated %s in tx %s", account, tx_hash, extra=fields)
        elif self._ran_out_of_gas(tx_hash):
            result.out_of_gas.append(account)
            log.error("liquidation of %s ran out of gas in tx %s", account, tx_hash, extra=fields)
        else:
            result.reverted += 1  # a competitor's transaction landed first
            log.info("liquidation of %s reverted on chain in tx %s (a competitor first)", account, tx_hash,
                     extra=fields)

    def run_once(self, strict: bool = True) -> KeeperRound:
        """One pass: sync the aggregator feeds (with a feed syncer: a jump latches before anything
        prices at it), settle pending delayed orders (with a settler), refresh accounts, batch health
        check, liquidate every unhealthy account, then (with a deleverager) auto-deleverage while the
        LP vault needs it.
        `strict`: raise KeeperError after the pass if any liquidation or deleverage failed for a
        non-benign reason."""
        feeds = self.feeds.run_once() if self.feeds is not None else None
        orders = self.settler.run_once() if self.settler is not None else None
        result = self.liquidate(*self.unhealthy_accounts())
        if feeds is not None:
            result.feeds_synced, result.feeds_latched = feeds.synced, feeds.latched
            result.reverted += feeds.reverted
            result.failed.update(feeds.failed)
        if orders is not None:
            result.orders_settled, result.orders_cancelled = len(orders.settled), len(orders.cancelled)
        if self.deleverager is not None:
            adl = self.deleverager.run_once()
            result.adl_needed, result.deleveraged = adl.needed, adl.deleveraged
            result.sent += adl.sent
            result.reverted += adl.reverted
            result.failed.update({f"deleverage {k}": v for k, v in adl.failed.items()})
        if strict and result.failed:
            account, reason = next(iter(result.failed.items()))
            raise KeeperError(account, reason)
        return result
