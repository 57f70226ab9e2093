"""pydantic models at the margin mirror's boundary: market parameters and one account's inputs."""

from pydantic import BaseModel, Field

from relayer.margin.maths import ONE


class MarketParams(BaseModel):
    """A PerpMarket's Params struct (1e18-scaled fractions and rates, base units)."""

    taker_fee: int = Field(ge=0, le=ONE // 10)
    """Fee per unit of traded notional."""
    imf_base: int = Field(gt=0, le=ONE)
    """Initial margin fraction of a tiny position (1 / max leverage)."""
    imf_slope: int = Field(ge=0)
    """Extra initial margin fraction per 1e18 base units of |size|."""
    mm_ratio: int = Field(gt=0, lt=ONE)
    """Maintenance margin as a share of initial margin."""
    max_funding_rate: int = Field(ge=0, le=ONE)
    """Per-day funding rate reached at |skew| >= skew_scale."""
    skew_scale: int = Field(gt=0)
    """Skew (base units) at which funding saturates."""
    max_open_interest: int = Field(gt=0)
    """Open-interest cap per side (base units)."""
    max_oi_to_vault: int = Field(default=2 * ONE, gt=0)
    """Per side: open-interest notional <= max_oi_to_vault x the counterparty's (LP vault's) equity."""

    def as_tuple(self) -> tuple[int, ...]:
        """The Solidity struct's field order."""
        return (
            self.taker_fee,
            self.imf_base,
            self.imf_slope,
            self.mm_ratio,
            self.max_funding_rate,
            self.skew_scale,
            self.max_open_interest,
            self.max_oi_to_vault,
        )


class PositionInput(BaseModel):
    """One position valued at `price` with the market's current funding index."""

    size: int
    last_price: int = Field(ge=0)
    last_funding: int
    price: int = Field(gt=0)
    funding: int
    params: MarketParams


class CollateralInput(BaseModel):
    """One collateral balance (ledger units) with its price and weight."""

    balance: int = Field(ge=0)
    decimals: int = Field(ge=0, le=36)
    weight_bps: int = Field(ge=0, le=10_000)
    price: int = Field(ge=0)
    status: int = Field(default=0, ge=0, le=3)
    """Oracle PriceStatus of `price` (0 Ok, 1 Stale, 2 Invalid, 3 SequencerDown): Stale and Invalid
    collateral is valued at the last good price x DOUBTFUL_BPS (RiskEngine.collateralPrice)."""


class AccountInputs(BaseModel):
    """Everything the risk engine reads for one account."""

    usd_balance: int
    collateral: list[CollateralInput] = []
    positions: list[PositionInput] = []


class Health(BaseModel):
    """Mirror of IMarginRiskEngine.Health (without the price flag: inputs are prices)."""

    equity: int
    initial_margin: int
    maintenance_margin: int
    collateral_value: int

    @property
    def liquidatable(self) -> bool:
        """Equity below maintenance margin."""
        return self.equity < self.maintenance_margin

    @property
    def surplus(self) -> int:
        """equity - maintenance margin: the health measure a liquidation never lowers."""
        return self.equity - self.maintenance_margin
