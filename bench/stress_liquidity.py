"""Exit liquidity for seized collateral (pure): a constant-product pool per asset and the keeper's
decision of how much collateral to buy from the liquidation module.

The liquidation module sells collateral to the keeper at `discount` below the oracle price (the
liquidation bonus, min(collateralDiscount, 1 - weight)). The keeper must resell it into a pool; the
sale happens only up to the size whose slippage plus gas leaves the bonus non-negative. Depth is
stated as the USD that moves the pool price 2 % (the usual "2 % depth" metric): a constant-product
pool whose USD reserve is y moves 2 % after a sale of y (1 / sqrt(0.98) - 1) ~ 1.015 % of y.
Sales not yet absorbed by arbitrage (the backlog) keep depressing the pool; the backlog decays with
a half-life in oracle steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

TWO_PCT_SHARE = 1 / math.sqrt(0.98) - 1
"""Sale, as a share of the USD reserve, that moves a constant-product pool's price by 2 %."""

DEPTH_2PCT_USD: dict[str, dict[str, float]] = {
    # USD sellable within 2 % on the hub's DEXes, per event (assumptions documented in docs/margin.md:
    # a tenth of the main Uniswap ETH/USDC + WBTC pools' 2 % depth of the time, halved again for
    # liquidity pulled during the crash).
    "2020-03-12": {"ETH": 150_000.0, "BTC": 50_000.0},
    "2021-05-19": {"ETH": 1_500_000.0, "BTC": 500_000.0},
    "2022-06-13": {"ETH": 1_000_000.0, "BTC": 400_000.0},
    "2022-11-08": {"ETH": 1_000_000.0, "BTC": 400_000.0},
    "2024-08-05": {"ETH": 1_500_000.0, "BTC": 500_000.0},
}
DEFAULT_DEPTH_2PCT_USD = {"ETH": 1_000_000.0, "BTC": 400_000.0}


def reserve_from_depth(depth_2pct_usd: float) -> float:
    """USD reserve of the constant-product pool with that 2 % depth."""
    return depth_2pct_usd / TWO_PCT_SHARE


def proceeds(reserve_usd: float, backlog_usd: float, sale_usd: float) -> float:
    """USD received selling `sale_usd` (valued at the oracle price) after `backlog_usd` already sold
    into a pool with USD reserve `reserve_usd`: y (b + v) / (y + b + v) - y b / (y + b)."""
    if sale_usd <= 0:
        return 0.0
    y, b, v = reserve_usd, backlog_usd, sale_usd
    return y * (b + v) / (y + b + v) - y * b / (y + b)


def slippage(reserve_usd: float, backlog_usd: float, sale_usd: float) -> float:
    """1 - proceeds / value: the average shortfall below the oracle price."""
    if sale_usd <= 0:
        return 0.0
    return 1 - proceeds(reserve_usd, backlog_usd, sale_usd) / sale_usd


@dataclass
class Pool:
    """One asset's exit pool with its unabsorbed backlog."""

    reserve_usd: float
    half_life_steps: float = 4.0
    backlog_usd: float = 0.0

    def decay(self, steps: int = 1) -> None:
        """Arbitrage absorbs the backlog between oracle steps."""
        self.backlog_usd *= 0.5 ** (steps / self.half_life_steps)

    def sell(self, sale_usd: float) -> float:
        """Sells and returns the proceeds."""
        out = proceeds(self.reserve_usd, self.backlog_usd, sale_usd)
        self.backlog_usd += sale_usd
        return out

    def max_profitable_sale(self, discount: float, gas_usd: float, cap_usd: float) -> float:
        """Largest sale (oracle USD) <= cap whose resale leaves the keeper >= 0 after gas: bought at
        (1 - discount) x value, sold for proceeds(value). 0 when no size pays (then the sale does
        not happen)."""
        def profit(v: float) -> float:
            return proceeds(self.reserve_usd, self.backlog_usd, v) - (1 - discount) * v - gas_usd

        if cap_usd <= 0 or discount <= 0:
            return 0.0
        if profit(cap_usd) >= 0:
            return cap_usd
        # profit is concave in v: find its peak, then the largest root beyond it
        lo, hi = 0.0, cap_usd
        for _ in range(60):
            m1, m2 = lo + (hi - lo) / 3, hi - (hi - lo) / 3
            if profit(m1) < profit(m2):
                lo = m1
            else:
                hi = m2
        peak = (lo + hi) / 2
        if profit(peak) < 0:
            return 0.0
        lo, hi = peak, cap_usd
        for _ in range(60):
            mid = (lo + hi) / 2
            if profit(mid) >= 0:
                lo = mid
            else:
                hi = mid
        return lo


@dataclass
class Market:
    """Every asset's pool for one event."""

    pools: dict[str, Pool] = field(default_factory=dict)

    @classmethod
    def for_event(cls, event: str, depth_scale: float = 1.0, half_life_steps: float = 4.0) -> Market:
        depth = DEPTH_2PCT_USD.get(event.removeprefix("squeeze-"), DEFAULT_DEPTH_2PCT_USD)
        return cls({a: Pool(reserve_from_depth(d * depth_scale), half_life_steps) for a, d in depth.items()})

    def decay(self, steps: int = 1) -> None:
        for p in self.pools.values():
            p.decay(steps)
