"""User trades on the hub's perpetual markets, backed by collateral from every spoke: open, change
and close a position; refusals decoded into messages that say what to do."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from web3.contract.contract import ContractFunction
from web3.logs import DISCARD
from web3.types import TxReceipt

from relayer.chain.abi import DecodedError, explain
from relayer.chain.margin import MarginContracts
from relayer.context import Context
from relayer.errors import ActionError, TradeRejectedError
from relayer.margin.maths import ONE, margins, notional
from relayer.services.transfers import Explainer, transact
from relayer.services.units import fmt_amount, parse_price, parse_size, usd
from relayer.types import UINT256_MAX


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
            f"opening or increasing a position waits for a fresh price (reducing and closing still work)"
        )

    def _on_OraclePriceInvalid(self, args: dict[str, Any]) -> str:  # noqa: N802
        feed = self.contracts.feed_symbol(int(args["feedId"]))
        return f"no valid {feed} price (unset, out of bounds or moved too far in one round): trading waits for one"

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

    def _on_MarketPoolBelowInitialMargin(self, args: dict[str, Any]) -> str:  # noqa: N802
        return (
            f"{self.market}'s liquidity pool cannot take more of this side (it would fall below its own "
            f"initial margin); trade a smaller size or wait for the other side to grow"
        )

    def _on_MarketPriceLimitExceeded(self, args: dict[str, Any]) -> str:  # noqa: N802
        return (
            f"the {self.market} price {usd(int(args['price']))} is beyond your limit "
            f"{usd(int(args['limitPrice']))}: nothing was traded"
        )

    def _on_MarketNoPosition(self, args: dict[str, Any]) -> str:  # noqa: N802
        return f"no {self.market} position to close"

    def _on_MarketPoolCannotTrade(self, args: dict[str, Any]) -> str:  # noqa: N802
        return f"{self.account} is the {self.market} liquidity pool: it cannot trade"

    def _feed_id(self) -> int:
        return int(self._call(self.contract.functions.feedId()))


def _result(contracts: MarginContracts, market: str, receipt: TxReceipt) -> TradeResult:
    """The trade's PositionModified event as a TradeResult."""
    contract = contracts.market(market)
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


def trade(ctx: Context, market: str, size: str, limit_price: str | None, key: str) -> TradeResult:
    """Buy (`size` > 0) or sell `size` base units of `market` at the oracle price, within
    `limit_price` if given (a buy reverts above it, a sell below it)."""
    contracts = ctx.margin()
    name = contracts.market_name(market)
    delta = parse_size(size)
    limit = parse_price(limit_price) if limit_price is not None else (UINT256_MAX if delta > 0 else 0)
    sender = ctx.sender(key, ctx.deployment.hub.chain_id)
    refusal = TradeRefusal(contracts, sender.address, name, delta)
    fn = contracts.market(name).functions.modifyPosition(delta, limit)
    return _result(contracts, name, transact(sender, fn, refusal))


def close(ctx: Context, market: str, key: str) -> TradeResult:
    """Close the whole position in `market` at the oracle price (a stale price is accepted)."""
    contracts = ctx.margin()
    name = contracts.market_name(market)
    sender = ctx.sender(key, ctx.deployment.hub.chain_id)
    size, *_ = contracts.client.call(contracts.market(name).functions.positions(sender.address))
    refusal = TradeRefusal(contracts, sender.address, name, -int(size))
    receipt = transact(sender, contracts.market(name).functions.closePosition(), refusal)
    return _result(contracts, name, receipt)
