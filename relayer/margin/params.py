"""Market and liquidation parameters stated in USD terms and converted to a market's base units at
a reference price (pure). The defaults are the calibration of docs/margin.md (stress test)."""

import math
from fractions import Fraction

from pydantic import BaseModel, Field

from relayer.margin.maths import ONE
from relayer.margin.models import MarketParams


class Calibration(BaseModel):
    """Risk parameters in USD terms."""

    max_leverage: float = Field(default=3.0, gt=0)
    """1 / imfBase. 3x is the crash replay's calibration (docs/margin.md, docs/decisions.md D46)."""
    mm_ratio: float = Field(default=0.5, gt=0, lt=1)
    imf_per_10m: float = Field(default=0.05, ge=0)
    """Extra initial margin fraction per 10M USD of position notional."""
    taker_fee: float = Field(default=0.001, ge=0)
    max_funding_rate: float = Field(default=0.1, ge=0)
    """Per day, reached at |skew| >= skew scale."""
    skew_scale_usd: float = Field(default=200_000_000, gt=0)
    max_open_interest_usd: float = Field(default=5_000_000_000, gt=0)
    max_oi_to_vault: float = Field(default=2.0, gt=0)
    """Per side: open-interest notional <= this x the counterparty's equity (GMX v2 reserve factor)."""


def market_params(price: float, cal: Calibration = Calibration()) -> MarketParams:
    """PerpMarket.Params for an underlying at `price` (same formulas as bench/stress.py)."""
    return MarketParams(
        taker_fee=int(cal.taker_fee * ONE),
        imf_base=math.ceil(ONE / Fraction(str(cal.max_leverage))),  # exact, rounded toward more margin
        imf_slope=int(cal.imf_per_10m * ONE * price / 10_000_000),
        mm_ratio=int(cal.mm_ratio * ONE),
        max_funding_rate=int(cal.max_funding_rate * ONE),
        skew_scale=int(cal.skew_scale_usd / price * ONE),
        max_open_interest=int(cal.max_open_interest_usd / price * ONE),
        max_oi_to_vault=int(cal.max_oi_to_vault * ONE),
    )


class LiquidationParams(BaseModel):
    """LiquidationModule.Params (1e18 fractions)."""

    close_factor: int = ONE // 2
    reward_rate: int = ONE // 100
    penalty_rate: int = ONE // 100
    collateral_discount: int = ONE // 20

    def as_tuple(self) -> tuple[int, int, int, int]:
        """The Solidity struct's field order."""
        return (self.close_factor, self.reward_rate, self.penalty_rate, self.collateral_discount)
