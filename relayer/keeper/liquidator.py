"""Find unhealthy accounts with one lens eth_call and liquidate each; tolerate competing keepers.

Loads in the brownie environment (the stress bench and the contract tests use it): it imports
web3, pydantic and relayer.chain.abi only, never the settings or the store."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError

from relayer.chain.abi import decode_error, revert_data
from relayer.errors import KeeperError
from relayer.keeper.deleverager import Deleverager
from relayer.keeper.settler import OrderSettler
from relayer.keeper.tracker import AccountTracker

log = logging.getLogger(__name__)

# Reverts that mean "someone else got there first" (or prices moved): skip, never retry blindly.
BENIGN_ERRORS = frozenset({"LiquidationAccountHealthy", "LiquidationPricesNotFresh"})
LIQUIDATOR_SHORT = "LiquidatorBelowInitialMargin"
"""The keeper's own ledger balance cannot pay for the collateral: it still closes positions."""
LENS_CHUNK = 1_000
LIQUIDATION_GAS = 3_000_000

Send = Callable[[Any], tuple[str, int]]
"""Sends a bound contract call and waits for it: (tx hash, receipt status). The relayer's keeper
signs with its key through relayer.chain.sender (relayer.context builds it); the stress bench
uses an unlocked node account (bench/_unlocked.py)."""


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
    skipped_benign: int = 0
    """Accounts a simulation showed already handled (competing keeper) or not liquidatable now."""
    reverted: int = 0
    """Sent liquidations that reverted on-chain (a competitor's landed between simulation and inclusion)."""
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


class Keeper:
    """One keeper: `run_once` = refresh accounts, batch health check, simulate, send."""

    def __init__(self, w3: Web3, sender: str, tracker: AccountTracker, lens: Any, module: Any,
                 send: Send, max_repay: int = 2**256 - 1, settler: OrderSettler | None = None,
                 deleverager: Deleverager | None = None) -> None:
        self.w3 = w3
        self.sender = Web3.to_checksum_address(sender)
        self.tracker = tracker
        self.lens = lens
        self.module = module
        self.max_repay = max_repay
        self._send = send
        self.settler = settler
        self.deleverager = deleverager

    def unhealthy_accounts(self) -> tuple[int, list[str]]:
        """(accounts checked, liquidatable accounts) — one eth_call per LENS_CHUNK accounts."""
        self.tracker.refresh()
        accounts = sorted(self.tracker.accounts)
        found: list[str] = []
        for i in range(0, len(accounts), LENS_CHUNK):
            found += self.lens.functions.liquidatable(accounts[i:i + LENS_CHUNK]).call()
        return len(accounts), found

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
            call, error = self._simulate(account)
            if call is None:
                if error in BENIGN_ERRORS:
                    result.skipped_benign += 1
                else:
                    result.failed[account] = error
                continue
            tx_hash, status = self._send(call)
            result.sent.append(tx_hash)
            fields = {"account": account, "tx_hash": tx_hash, "sender": self.sender}
            if status == 1:
                result.liquidated.append(account)
                log.info("liquidated %s in tx %s", account, tx_hash, extra=fields)
            else:
                result.reverted += 1  # a competitor's transaction landed first
                log.info("liquidation of %s reverted on chain in tx %s (a competitor first)", account, tx_hash,
                         extra=fields)
        return result

    def run_once(self, strict: bool = True) -> KeeperRound:
        """One pass: settle pending delayed orders (with a settler), refresh accounts, batch health
        check, liquidate every unhealthy account, then (with a deleverager) auto-deleverage while the
        LP vault needs it.
        `strict`: raise KeeperError after the pass if any liquidation or deleverage failed for a
        non-benign reason."""
        orders = self.settler.run_once() if self.settler is not None else None
        result = self.liquidate(*self.unhealthy_accounts())
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
