"""Pure-Python mirror of the on-chain margin maths (no I/O): the keeper, the stress tool and the
tests use it to predict and cross-check the contracts."""

from relayer.margin.maths import (
    ONE,
    div_floor,
    funding_delta,
    funding_rate,
    initial_margin_fraction,
    margins,
    notional,
    pnl,
)
from relayer.margin.models import AccountInputs, Health, MarketParams, PositionInput
from relayer.margin.health import account_health

__all__ = [
    "ONE",
    "AccountInputs",
    "Health",
    "MarketParams",
    "PositionInput",
    "account_health",
    "div_floor",
    "funding_delta",
    "funding_rate",
    "initial_margin_fraction",
    "margins",
    "notional",
    "pnl",
]
