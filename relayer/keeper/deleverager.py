"""The keeper's auto-deleveraging loop (docs/margin.md "LP vault"): while the LP vault
`needsDeleverage()`, close profitable positions through the AutoDeleverager, highest unrealised PnL
× leverage first (relayer.margin.adl), re-reading the vault after each and stopping once it no
longer needs it.

Loads in the brownie environment like the liquidator: web3, pydantic, relayer.chain.abi and
relayer.margin only."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError

from relayer.chain.abi import decode_error, revert_data
from relayer.keeper.tracker import AccountTracker
from relayer.margin.adl import AdlCandidate, rank
from relayer.margin.maths import notional

log = logging.getLogger(__name__)

STOP_ERRORS = frozenset({"AdlNotNeeded"})
"""The vault recovered (a competitor's deleverage or a trader's close landed first): the round ends."""
SKIP_ERRORS = frozenset({"AdlPositionNotProfitable"})
"""The position moved out of profit (or was closed) since it was read: the next candidate."""

Send = Callable[[Any], tuple[str, int]]


class AdlRound(BaseModel):
    """Outcome of one deleveraging pass."""

    needed: bool = False
    """The vault needed deleveraging when the pass started."""
    deleveraged: list[str] = []
    """`market:account` of every position this keeper deleveraged (mined successfully), in order."""
    sent: list[str] = []
    """Transaction hashes sent."""
    reverted: int = 0
    """Sent deleverages that reverted on chain (a competitor's landed first)."""
    skipped: int = 0
    """Candidates a simulation showed no longer eligible."""
    failed: dict[str, str] = {}
    """`market:account` -> custom error of a simulation that reverted for another reason."""
    still_needed: bool = False
    """The vault still needs deleveraging after the pass (no eligible position left)."""


class Deleverager:
    """One keeper's ADL loop over the markets the vault backs."""

    def __init__(self, w3: Web3, sender: str, tracker: AccountTracker, vault: Any, adl: Any, engine: Any,
                 markets: dict[str, Any], send: Send) -> None:
        self.w3 = w3
        self.sender = Web3.to_checksum_address(sender)
        self.tracker = tracker
        self.vault = vault
        self.adl = adl
        self.engine = engine
        self.markets = markets
        self._send = send

    def needed(self) -> bool:
        """Whether the vault is below its maintenance margin or over its max-PnL factor now."""
        return bool(self.vault.functions.needsDeleverage().call())

    def candidates(self) -> list[AdlCandidate]:
        """Every tracked account's open position in every market, with its account's equity."""
        self.tracker.refresh()
        vault = Web3.to_checksum_address(self.vault.address)
        equity: dict[str, int] = {}
        out: list[AdlCandidate] = []
        for name, market in self.markets.items():
            for account in sorted(self.tracker.accounts):
                if account == vault:
                    continue
                size, pnl, _im, _mm, price, *_ = market.functions.marginState(account).call()
                if int(size) == 0:
                    continue
                if account not in equity:
                    equity[account] = int(self.engine.functions.health(account).call()[0])
                out.append(AdlCandidate(market=name, account=account, size=int(size), pnl=int(pnl),
                                        notional=notional(int(size), int(price)), equity=equity[account]))
        return out

    def _revert_name(self, err: Exception) -> str:
        error = decode_error(revert_data(err), [self.adl.abi])
        return error.name if error is not None else str(err)

    def run_once(self) -> AdlRound:
        """While the vault needs it, deleverage the ranked positions one by one (whole positions),
        re-reading the vault after each; stops as soon as it no longer needs it."""
        result = AdlRound(needed=self.needed())
        if not result.needed:
            return result
        for target in rank(self.candidates()):
            if not self.needed():
                return result
            market = self.markets[target.market]
            label = f"{target.market}:{target.account}"
            call = self.adl.functions.deleverage(market.address, target.account, abs(target.size))
            try:
                call.call({"from": self.sender})
            except (ContractCustomError, ContractLogicError, ValueError) as err:
                name = self._revert_name(err)
                if name in STOP_ERRORS:
                    return result
                if name in SKIP_ERRORS:
                    result.skipped += 1
                else:
                    result.failed[label] = name
                continue
            tx_hash, status = self._send(call)
            result.sent.append(tx_hash)
            fields = {"account": target.account, "market": target.market, "tx_hash": tx_hash, "sender": self.sender}
            if status == 1:
                result.deleveraged.append(label)
                log.info("deleveraged %s %s (PnL %d, size %d) in tx %s: the LP vault needed it", target.market,
                         target.account, target.pnl, target.size, tx_hash, extra=fields)
            else:
                result.reverted += 1
                log.info("deleverage of %s %s reverted on chain in tx %s (a competitor first)", target.market,
                         target.account, tx_hash, extra=fields)
        result.still_needed = self.needed()
        if result.still_needed:
            log.warning("the LP vault still needs deleveraging: no eligible profitable position left",
                        extra={"sender": self.sender})
        return result
