"""User trades on the hub's perpetual markets, backed by collateral from every spoke: open, change
and close a position; refusals decoded into messages that say what to do."""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.logs import DISCARD
from web3.types import TxReceipt

from relayer.chain.abi import DecodedError, abi_of, decode_error, explain
from relayer.chain.margin import MarginContracts
from relayer.chain.orders import pending_order, settlement_round
from relayer.context import Context
from relayer.errors import ActionError, TradeRejectedError
from relayer.margin.maths import ONE, margins, notional
from relayer.services.transfers import Explainer, transact
from relayer.services.units import fmt_amount, parse_price, parse_size, usd
from relayer.types import UINT256_MAX

CANCEL_REASONS = (
    "expired",
    "the settlement price is beyond your limit",
    "opening is paused",
    "fill refused",
    "the account was liquidated (or deleveraged) after the commit",
)
"""PerpOrders.CancelReason, in order."""


class TradeResult(BaseModel):
    """A mined trade, as the market's PositionModified event reports it."""

    tx_hash: str
    block_number: int
    market: str
    size_delta: int
    """Base units (1e18) bought (+) or sold (-)."""
    new_size: int
    price: int
    """Execution (oracle) price, 1e18 USD."""
    realized_pnl: int
    """PnL and funding settled into the USD balance by this trade (1e18 USD)."""
    fee: int


class TradeRefusal(Explainer):
    """A refused trade with the figures that explain it: the contracts, the account, the market and the trade."""

    def __init__(self, contracts: MarginContracts, account: str, market: str, delta: int) -> None:
        self.contracts = contracts
        self.account = account
        self.market = market
        self.delta = delta
        self.contract = contracts.market(market)

    def _call(self, fn: ContractFunction) -> Any:
        return self.contracts.client.call(fn)

    def __call__(self, error: DecodedError) -> str:
        """The refusal in the trader's terms; errors without a handler read from the catalog."""
        handler = getattr(self, f"_on_{error.name}", None)
        return str(handler(error.args)) if handler else f"{self.market} trade refused: {explain(error)}"

    def error(self, error: DecodedError) -> ActionError:
        """TradeRejectedError naming the contract's error."""
        return TradeRejectedError(error.name, self(error))

    def _now(self) -> int:
        return int(self.contracts.client.get_block("latest")["timestamp"])

    def _on_OraclePriceStale(self, args: dict[str, Any]) -> str:  # noqa: N802 - named after the Solidity error
        feed = self.contracts.feed_symbol(int(args["feedId"]))
        age = self._now() - int(args["updatedAt"])
        return (
            f"stale price: the {feed} price was last updated {age}s ago (heartbeat {args['heartbeat']}s); "
            f"opening or increasing a position waits for a fresh price (a close fills at the next published price)"
        )

    def _on_OraclePriceInvalid(self, args: dict[str, Any]) -> str:  # noqa: N802
        feed = self.contracts.feed_symbol(int(args["feedId"]))
        return (f"no valid {feed} price (unset, out of bounds, or latched after a move beyond the bound until "
                f"confirmed or resolved by governance): opening waits for one")

    def _on_MarketPriceUnavailable(self, args: dict[str, Any]) -> str:  # noqa: N802
        return self._on_OraclePriceInvalid(args)

    def _on_MarketAccountBelowInitialMargin(self, args: dict[str, Any]) -> str:  # noqa: N802
        health = self._call(self.contracts.engine.functions.health(self.account))
        equity, im_now = int(health[0]), int(health[1])
        price = int(self._call(self.contracts.oracle.functions.getPrice(self._feed_id()))[0])
        fee_rate, imf_base, imf_slope, mm_ratio, *_ = self._call(self.contract.functions.params())
        size, *_ = self._call(self.contract.functions.positions(self.account))
        state = self._call(self.contract.functions.marginState(self.account))
        im_market, _ = margins(int(size) + self.delta, price, imf_base, imf_slope, mm_ratio)
        im_after = im_now - int(state[2]) + im_market
        equity_after = equity - notional(self.delta, price) * fee_rate // ONE
        return (
            f"insufficient margin: after this trade the account needs an initial margin of {usd(im_after)} "
            f"but its equity would be {usd(equity_after)} (collateral from every spoke at its weight, plus "
            f"PnL); deposit more collateral or trade a smaller size (max leverage {ONE / imf_base:g}x)"
        )

    def _on_MarketOpenInterestCapExceeded(self, args: dict[str, Any]) -> str:  # noqa: N802
        side = "long" if self.delta > 0 else "short"
        return (
            f"open-interest cap: this trade would take {self.market}'s {side} open interest to "
            f"{fmt_amount(int(args['openInterest']), 18)}, above its cap of {fmt_amount(int(args['cap']), 18)} "
            f"(base units); trade a smaller size"
        )

    def _on_MarketOpenInterestExceedsVaultCap(self, args: dict[str, Any]) -> str:  # noqa: N802
        return (
            f"open-interest cap of the liquidity vault: this trade would take {self.market}'s larger side to "
            f"{usd(int(args['notional']))} of notional, above {usd(int(args['cap']))} (a multiple of the vault's "
            f"equity); trade a smaller size or wait for LP deposits"
        )

    def _on_MarketPoolBelowInitialMargin(self, args: dict[str, Any]) -> str:  # noqa: N802
        return (
            f"{self.market}'s liquidity pool cannot take more of this side (it would fall below its own "
            f"initial margin); trade a smaller size or wait for the other side to grow"
        )

    def _on_MarketOpeningPaused(self, args: dict[str, Any]) -> str:  # noqa: N802
        return f"opening and increasing {self.market} positions is paused by the guardian (closing still works)"

    def _on_OracleSequencerDown(self, args: dict[str, Any]) -> str:  # noqa: N802
        return "the L2 sequencer is down or just restarted: opening waits for its grace period (closing works)"

    def _on_MarketPoolCannotTrade(self, args: dict[str, Any]) -> str:  # noqa: N802
        return f"{self.account} is the {self.market} liquidity pool: it cannot trade"

    def _feed_id(self) -> int:
        return int(self._call(self.contract.functions.feedId()))


class CatalogTradeRefusal(Explainer):
    """A refused trade explained from the error catalog alone (no chain reads: the async SDK)."""

    def __init__(self, market: str) -> None:
        self.market = market

    def __call__(self, error: DecodedError) -> str:
        return f"{self.market} trade refused: {explain(error)}"

    def error(self, error: DecodedError) -> ActionError:
        """TradeRejectedError naming the contract's error."""
        return TradeRejectedError(error.name, self(error))


def order_args(size: str, limit_price: str | None) -> tuple[int, int]:
    """(size delta, acceptable price) of a delayed order from user input: a buy without a limit
    accepts any price (UINT256_MAX), a sell any price down to 0. ActionError on malformed input."""
    delta = parse_size(size)
    limit = parse_price(limit_price) if limit_price is not None else (UINT256_MAX if delta > 0 else 0)
    return delta, limit


def close_args(size: int) -> tuple[int, int]:
    """(size delta, acceptable price) of the order that closes a position of `size` at any price."""
    if size == 0:
        raise ActionError("no position to close")
    return -size, 0 if size > 0 else UINT256_MAX


def _result(contract: Contract, market: str, receipt: TxReceipt) -> TradeResult:
    """The trade's PositionModified event (of market `contract`) as a TradeResult."""
    events = contract.events.PositionModified().process_receipt(receipt, errors=DISCARD)
    (event,) = [e for e in events if e["address"] == contract.address]
    args = event["args"]
    return TradeResult(
        tx_hash="0x" + bytes(receipt["transactionHash"]).hex(),
        block_number=int(receipt["blockNumber"]),
        market=market,
        size_delta=int(args["sizeDelta"]),
        new_size=int(args["newSize"]),
        price=int(args["price"]),
        realized_pnl=int(args["realizedPnl"]),
        fee=int(args["fee"]),
    )


ORDER_POLL_S = 0.5
"""How often a trade checks whether its order was settled (by a keeper or by itself)."""


def settled(contract: Contract, market: str, receipt: TxReceipt, refusal: Explainer | None = None) -> TradeResult:
    """The fill in a settlement receipt of market `contract`, or TradeRejectedError when the order
    was cancelled (a refused fill is explained from the custom error the market recorded)."""
    refused = contract.events.OrderFillRefused().process_receipt(receipt, errors=DISCARD)
    if refused and refusal is not None:
        error = decode_error(bytes(refused[0]["args"]["reason"]))
        if error is not None:
            raise refusal.error(error)
    canceled = contract.events.OrderCanceled().process_receipt(receipt, errors=DISCARD)
    if canceled:
        reason = CANCEL_REASONS[int(canceled[0]["args"]["reason"])]
        raise TradeRejectedError("OrderCanceled", f"{market} order cancelled ({reason}): nothing was traded")
    return _result(contract, market, receipt)


def _find_settlement(contracts: MarginContracts, market: str, account: str, from_block: int) -> TradeResult:
    """The settlement (or cancellation) of `account`'s order mined since `from_block` by someone else."""
    contract = contracts.market(market)
    refusal = TradeRefusal(contracts, account, market, 0)
    for event in (contract.events.OrderSettled, contract.events.OrderCanceled):
        logs = event().get_logs(from_block=from_block, argument_filters={"account": account})
        if logs:
            receipt = contracts.client.w3.eth.get_transaction_receipt(logs[-1]["transactionHash"])
            return settled(contract, market, receipt, refusal)
    raise TradeRejectedError("OrderNotFound", f"the {market} order of {account} disappeared without a settlement")


def wait_for_settlement(ctx: Context, market: str, key: str, from_block: int) -> TradeResult:
    """Waits for the sender's pending order in `market` to be settled; settles it itself at the first
    round published after the minimum delay if no keeper was faster; cancels it once expired."""
    contracts = ctx.margin()
    contract = contracts.market(market)
    sender = ctx.sender(key, ctx.deployment.hub.chain_id)
    feed_id = int(contracts.client.call(contract.functions.feedId()))
    aggregator_abi = abi_of("MockAggregatorV3")
    while True:
        order = pending_order(contract, sender.address)
        if order is None:
            return _find_settlement(contracts, market, sender.address, from_block)
        now = int(contracts.client.get_block("latest")["timestamp"])
        if now > order.expires_at:
            transact(sender, contract.functions.cancelExpiredOrder(sender.address), Explainer())
            raise TradeRejectedError("OrderExpired", f"the {market} order expired unsettled: nothing was traded "
                                                     "(the escrowed keeper reward was returned)")
        round_id = settlement_round(contracts.oracle, aggregator_abi, feed_id, order)
        if round_id is not None:
            refusal = TradeRefusal(contracts, sender.address, market, order.size_delta)
            try:
                receipt = transact(sender, contract.functions.settleOrder(sender.address, round_id), refusal)
            except TradeRejectedError as err:
                if err.error != "OrderNotFound":  # a keeper settled it first: read its settlement
                    raise
                continue
            except ActionError:
                # Estimated fine, then mined and reverted: a keeper's settlement landed first in the
                # same block (seen on the devnet). Read that settlement unless the order still waits.
                if pending_order(contract, sender.address) is not None:
                    raise
                continue
            return settled(contract, market, receipt, refusal)
        time.sleep(ORDER_POLL_S)


def commit(ctx: Context, market: str, delta: int, limit: int, key: str) -> int:
    """Commits a delayed order; returns the block it was mined in."""
    contracts = ctx.margin()
    sender = ctx.sender(key, ctx.deployment.hub.chain_id)
    refusal = TradeRefusal(contracts, sender.address, market, delta)
    receipt = transact(sender, contracts.market(market).functions.commitOrder(delta, limit), refusal)
    return int(receipt["blockNumber"])


def trade(ctx: Context, market: str, size: str, limit_price: str | None, key: str) -> TradeResult:
    """Buy (`size` > 0) or sell `size` base units of `market` through a delayed order: commit now,
    filled at the first oracle price published after the minimum delay if it is within
    `limit_price` (a buy's maximum, a sell's minimum); waits for the settlement."""
    contracts = ctx.margin()
    name = contracts.market_name(market)
    delta, limit = order_args(size, limit_price)
    block = commit(ctx, name, delta, limit, key)
    return wait_for_settlement(ctx, name, key, block)


def close(ctx: Context, market: str, key: str) -> TradeResult:
    """Close the whole position in `market` through a delayed order at any price."""
    contracts = ctx.margin()
    name = contracts.market_name(market)
    sender = ctx.sender(key, ctx.deployment.hub.chain_id)
    size, *_ = contracts.client.call(contracts.market(name).functions.positions(sender.address))
    if int(size) == 0:
        raise TradeRejectedError("MarketSizeDeltaZero", f"no {name} position to close")
    block = commit(ctx, name, *close_args(int(size)), key)
    return wait_for_settlement(ctx, name, key, block)
