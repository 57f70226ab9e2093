"""The margin engine's part of a deploy plan (`margin:` in config/deploy/<network>.yaml, built in
code by the devnet): feeds, markets and risk parameters, validated by pydantic before anything is
sent. Prices and fractions are stated in USD and plain fractions; `relayer.deploy.margin` converts
them to the contracts' 1e18 fixed point."""

from __future__ import annotations

from decimal import Decimal, localcontext
from typing import Annotated

from pydantic import BaseModel, Field, model_validator

from relayer._pydantic import strict as _strict
from relayer.margin.params import Calibration, LiquidationParams
from relayer.types import Address

E18 = 10**18
MAX_ORDER_DELAY_S = 86_400
"""PerpOrders.MAX_ORDER_DELAY: an order expires at most a day after its commit."""
MAX_SETTLEMENT_REWARD_USD = 1_000
"""PerpOrders.MAX_SETTLEMENT_REWARD, in USD."""
MAX_REDEEM_DELAY_S = 30 * 86_400
"""LPVault.MAX_REDEEM_DELAY."""


def units(value: Decimal | float | int, decimals: int) -> int:
    """`value` whole units in `decimals` fixed point, exactly as written (no binary float rounding,
    no 28-digit context rounding); the fraction below one unit is dropped."""
    with localcontext() as ctx:
        ctx.prec = 100
        return int(Decimal(str(value)) * 10**decimals)


def usd(value: Decimal | float) -> int:
    """A USD amount or price in 1e18 fixed point (`units` at 18 decimals)."""
    return units(value, 18)


class FeedPlan(BaseModel):
    """One Chainlink-compatible aggregator feed of the PriceOracle (PriceOracle.setAggregatorFeed)."""

    model_config = _strict

    feed_id: Annotated[int, Field(gt=0, lt=2**32)]
    """A collateral asset's feed id is its ledger asset id (the risk engine prices collateral by it)."""
    aggregator: Address
    """The AggregatorV3 (e.g. Chainlink's proxy) on the hub chain."""
    heartbeat_s: Annotated[int, Field(gt=0, lt=2**32)]
    """Seconds after a round's `updatedAt` at which the price turns stale (the feed's own heartbeat)."""
    min_price_usd: Annotated[Decimal, Field(gt=0)]
    max_price_usd: Annotated[Decimal, Field(gt=0)]
    max_move_bps: Annotated[int, Field(gt=0, le=10_000)]
    """Largest move between consecutive rounds; a larger one latches the feed until governance resolves it."""

    @model_validator(mode="after")
    def _bounds(self) -> FeedPlan:
        """min < max, as the oracle requires."""
        if self.max_price_usd <= self.min_price_usd:
            raise ValueError(f"max_price_usd {self.max_price_usd} is not above min_price_usd {self.min_price_usd}")
        return self


class RiskPlan(Calibration):
    """A market's risk parameters in USD terms (relayer.margin.params.Calibration); unknown keys refused."""

    model_config = _strict


class MarketPlan(BaseModel):
    """One PerpMarket: its feed and risk parameters, stated in USD at a reference price."""

    model_config = _strict

    feed: str
    """Symbol of the feed that prices it (a key of `margin.feeds`)."""
    reference_price_usd: Annotated[float, Field(gt=0)]
    """The price the USD-denominated parameters are converted at (skew scale, open-interest cap, IMF slope)."""
    risk: RiskPlan = Field(default_factory=RiskPlan)
    """Leverage, maintenance ratio, fees, funding, open-interest caps (relayer.margin.params.Calibration)."""


class OrderPlan(BaseModel):
    """Delayed-order settings of every market (PerpOrders.setOrderConfig)."""

    model_config = _strict

    min_delay_s: Annotated[int, Field(gt=0)]
    """Seconds after a commit before its settlement price may be published."""
    max_delay_s: Annotated[int, Field(gt=0, le=MAX_ORDER_DELAY_S)]
    """Seconds after a commit at which an unsettled order expires."""
    settlement_reward_usd: Annotated[Decimal, Field(ge=0, le=MAX_SETTLEMENT_REWARD_USD)]
    """Escrowed at commit, paid to the keeper that settles the order."""

    @model_validator(mode="after")
    def _window(self) -> OrderPlan:
        """An order has a settlement window: min < max."""
        if self.max_delay_s <= self.min_delay_s:
            raise ValueError(f"max_delay_s {self.max_delay_s} is not above min_delay_s {self.min_delay_s}")
        return self

    def as_tuple(self) -> tuple[int, int, int]:
        """PerpOrders.OrderConfig's field order."""
        return (self.min_delay_s, self.max_delay_s, usd(self.settlement_reward_usd))


class LiquidationPlan(BaseModel):
    """LiquidationModule parameters as fractions (docs/margin.md "Liquidation")."""

    model_config = _strict

    close_factor: Annotated[Decimal, Field(gt=0, le=1)] = Decimal("0.5")
    reward_rate: Annotated[Decimal, Field(ge=0, lt=1)] = Decimal("0.01")
    penalty_rate: Annotated[Decimal, Field(ge=0, lt=1)] = Decimal("0.01")
    collateral_discount: Annotated[Decimal, Field(ge=0, lt=1)] = Decimal("0.05")

    def params(self) -> LiquidationParams:
        """The module's 1e18 fixed-point parameters."""
        return LiquidationParams(close_factor=usd(self.close_factor), reward_rate=usd(self.reward_rate),
                                 penalty_rate=usd(self.penalty_rate), collateral_discount=usd(self.collateral_discount))


class VaultPlan(BaseModel):
    """The LP vault (every market's counterparty)."""

    model_config = _strict

    redeem_delay_s: Annotated[int, Field(ge=0, le=MAX_REDEEM_DELAY_S)] = 86_400
    """Seconds between a redemption request and its execution."""
    max_pnl_factor: Annotated[Decimal, Field(gt=0, le=1)] = Decimal("0.5")
    """Traders' open profit may reach this fraction of the vault's assets (above it: no redemptions, ADL)."""


class SequencerFeedPlan(BaseModel):
    """An L2 sequencer uptime feed (PriceOracle.setSequencerFeed): prices count as down while the
    sequencer is down and for `grace_period_s` after it comes back."""

    model_config = _strict

    address: Address
    grace_period_s: Annotated[int, Field(ge=0, lt=2**32)] = 3_600


class MarginPlan(BaseModel):
    """The margin engine on the hub: oracle feeds, markets, risk, liquidation, vault and order settings."""

    model_config = _strict

    settlement_asset: str = "USDC"
    """Ledger asset (symbol) USD PnL settles in: the LP vault's and the settlement's asset."""
    insurance_fund: Address
    """Ledger account of the insurance fund (liquidation penalties in, bad debt out)."""
    feeds: Annotated[dict[str, FeedPlan], Field(min_length=1)]
    """Symbol -> aggregator feed."""
    markets: Annotated[dict[str, MarketPlan], Field(min_length=1)]
    """Market name (e.g. ETH-USD) -> market."""
    orders: OrderPlan | None = None
    """None: the contract's defaults (2 s .. 600 s, 0.5 USD reward)."""
    liquidation: LiquidationPlan = Field(default_factory=LiquidationPlan)
    vault: VaultPlan = Field(default_factory=VaultPlan)
    sequencer_feed: SequencerFeedPlan | None = None
    """Set on an L2 hub with a Chainlink sequencer uptime feed (Arbitrum, Base, OP mainnet)."""

    @model_validator(mode="after")
    def _consistent(self) -> MarginPlan:
        """Markets priced by known feeds; feed ids distinct."""
        for name, market in self.markets.items():
            if market.feed not in self.feeds:
                raise ValueError(f"market {name} names unknown feed {market.feed!r}")
        ids = [f.feed_id for f in self.feeds.values()]
        if len(set(ids)) != len(ids):
            raise ValueError("feed ids must be distinct")
        return self

    def check_assets(self, assets: dict[str, tuple[int, int]]) -> None:
        """ValueError unless the ledger's assets (symbol -> (asset id, weight bps)) fit: the
        settlement asset is one of them and every collateral asset (weight > 0) has a feed whose
        id is its asset id (the risk engine prices collateral by asset id)."""
        if self.settlement_asset not in assets:
            raise ValueError(f"margin.settlement_asset {self.settlement_asset!r} is not a plan asset")
        for symbol, (asset_id, weight) in assets.items():
            if weight == 0:
                continue
            feed = self.feeds.get(symbol)
            if feed is None or feed.feed_id != asset_id:
                raise ValueError(
                    f"collateral asset {symbol} (id {asset_id}) needs a feed {symbol} with feed_id {asset_id}")
