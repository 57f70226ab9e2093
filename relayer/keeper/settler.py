"""Settle other traders' delayed orders for the escrowed reward (Synthetix v3's settlement
keepers), and cancel expired ones so their escrow returns to the trader.

Loads in the brownie environment like the liquidator: web3, pydantic and relayer.chain only."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError

from relayer.chain.orders import pending_order, settlement_round
from relayer.keeper.tracker import AccountTracker

log = logging.getLogger(__name__)


class SettleRound(BaseModel):
    """Outcome of one settlement pass."""

    settled: list[str] = []
    """Transaction hashes of orders this keeper settled (or cancelled at a price beyond the limit)."""
    cancelled: list[str] = []
    """Transaction hashes of expired orders this keeper cancelled."""
    reverted: int = 0
    """Sent settlements that reverted on chain (a competitor's landed first)."""


class OrderSettler:
    """Finds pending orders of every account that ever committed one and settles each at its round."""

    def __init__(self, w3: Web3, sender: str, tracker: AccountTracker, markets: list[Any], oracle: Any,
                 aggregator_abi: list[Any], send: Any) -> None:
        self.w3 = w3
        self.sender = Web3.to_checksum_address(sender)
        self.tracker = tracker
        self.markets = markets
        self.oracle = oracle
        self.aggregator_abi = aggregator_abi
        self._send = send

    def _call_for(self, market: Any, feed_id: int, account: str, now: int) -> tuple[Any, bool] | None:
        """(call, is_cancel) for `account`'s order in `market`, or None when there is nothing to do yet."""
        order = pending_order(market, account)
        if order is None:
            return None
        if now > order.expires_at:
            return market.functions.cancelExpiredOrder(account), True
        round_id = settlement_round(self.oracle, self.aggregator_abi, feed_id, order)
        if round_id is None:
            return None
        return market.functions.settleOrder(account, round_id), False

    def run_once(self) -> SettleRound:
        """One pass over every known account and market; a simulation that reverts is skipped (a
        competitor settled first, or the fill would break a margin rule and the order will expire)."""
        self.tracker.refresh()
        result = SettleRound()
        now = int(self.w3.eth.get_block("latest")["timestamp"])
        for market in self.markets:
            feed_id = int(market.functions.feedId().call())
            for account in sorted(self.tracker.accounts):
                found = self._call_for(market, feed_id, account, now)
                if found is None:
                    continue
                call, is_cancel = found
                try:
                    call.call({"from": self.sender})
                except (ContractCustomError, ContractLogicError, ValueError) as err:
                    log.info("order of %s not settleable now: %s", account, err)
                    continue
                tx_hash, status = self._send(call)
                if status != 1:
                    result.reverted += 1
                    continue
                (result.cancelled if is_cancel else result.settled).append(tx_hash)
                log.info("%s order of %s in tx %s", "cancelled" if is_cancel else "settled", account, tx_hash,
                         extra={"account": account, "tx_hash": tx_hash})
        return result
