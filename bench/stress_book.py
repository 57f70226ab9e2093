"""The simulated book (pure): who posts what collateral on which spoke, at what leverage, when the
position was opened, and how the trader reacts as equity falls.

Collateral: USDC, ETH or BTC, from either spoke. Leverage: 1 + (max - 1) x a Pareto(alpha) draw
capped at 1 (many near 1-3x, a fat tail at the market's max). Positions open on one of the
`days_before` days before the event at that day's price. Reactions: a share of traders add margin
once when equity / maintenance margin falls below a trigger, a share close when they have lost a
set share of their collateral.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Literal

Asset = Literal["USDC", "ETH", "BTC"]
Reaction = Literal["none", "add_margin", "close"]
SPOKES = (101, 102)


@dataclass(frozen=True)
class BookParams:
    """How the book is drawn."""

    accounts: int
    max_leverage: float
    long_share: float = 0.6
    """Share of positions long (crash books); squeeze books use 1 - long_share."""
    collateral_mix: tuple[float, float, float] = (0.5, 0.3, 0.2)
    """Shares of accounts posting USDC, ETH, BTC."""
    pareto_alpha: float = 1.5
    """Tail index of leverage: lower = fatter tail (more accounts at the max)."""
    median_collateral_usd: float = 10_000.0
    collateral_sigma: float = 1.2
    """Log-normal spread of collateral sizes."""
    max_collateral_usd: float = 2_000_000.0
    days_before: int = 10
    add_margin_share: float = 0.25
    close_share: float = 0.15
    add_margin_trigger: float = 1.5
    """Equity / maintenance margin at which add-margin traders top up (once)."""
    add_margin_fraction: float = 0.5
    """Top-up as a share of the initial collateral."""
    close_loss: float = 0.5
    """Share of collateral lost at which closing traders close."""


@dataclass(frozen=True)
class Position:
    market: Literal["ETH", "BTC"]
    notional_usd: float
    """Signed: > 0 long."""


@dataclass(frozen=True)
class Trader:
    index: int
    spoke: int
    collateral: Asset
    collateral_usd: float
    leverage: float
    open_day: int
    """Days before the event's first bar (1 = the day before)."""
    positions: tuple[Position, ...]
    reaction: Reaction


def draw_leverage(rng: random.Random, max_leverage: float, alpha: float) -> float:
    """1 + (max - 1) x min(1, (Pareto(alpha) - 1) / 4): median ~1.3x-2x, ~6 % of accounts at the max
    for alpha 1.5."""
    x = (rng.paretovariate(alpha) - 1) / 4
    return 1 + (max_leverage - 1) * min(1.0, x)


def draw_trader(i: int, p: BookParams, side_long_share: float, rng: random.Random) -> Trader:
    u = rng.random()
    mix = p.collateral_mix
    collateral: Asset = "USDC" if u < mix[0] else "ETH" if u < mix[0] + mix[1] else "BTC"
    usd = min(p.max_collateral_usd, p.median_collateral_usd * math.exp(rng.gauss(0, p.collateral_sigma)))
    lev = draw_leverage(rng, p.max_leverage, p.pareto_alpha)
    v = rng.random()
    markets: tuple[Literal["ETH", "BTC"], ...] = ("ETH",) if v < 0.45 else ("BTC",) if v < 0.9 else ("ETH", "BTC")
    positions = tuple(
        Position(m, usd * lev / len(markets) * (1 if rng.random() < side_long_share else -1)) for m in markets
    )
    w = rng.random()
    reaction: Reaction = (
        "add_margin" if w < p.add_margin_share else "close" if w < p.add_margin_share + p.close_share else "none"
    )
    return Trader(i, SPOKES[i % 2], collateral, usd, lev, rng.randint(1, p.days_before), positions, reaction)


def draw_book(p: BookParams, squeeze: bool, seed: str) -> list[Trader]:
    """The book for one event and seed (deterministic in `seed`)."""
    rng = random.Random(seed)
    long_share = 1 - p.long_share if squeeze else p.long_share
    return [draw_trader(i, p, long_share, rng) for i in range(p.accounts)]


def wants_to_act(t: Trader, p: BookParams, equity: float, maintenance: float, acted: bool) -> bool:
    """Whether the trader reacts now: add-margin traders below `add_margin_trigger` x maintenance,
    closing traders after losing `close_loss` of their collateral; each reacts at most once, and
    only while still above maintenance (below it the keepers act first)."""
    if acted or t.reaction == "none" or maintenance <= 0 or equity <= maintenance:
        return False
    if t.reaction == "add_margin":
        return equity < maintenance * p.add_margin_trigger
    return equity < t.collateral_usd * (1 - p.close_loss)


def skew(book: list[Trader]) -> dict[str, float]:
    """Net notional (long - short) per market, USD at opening prices."""
    out = {"ETH": 0.0, "BTC": 0.0}
    for t in book:
        for pos in t.positions:
            out[pos.market] += pos.notional_usd
    return out


def gross(book: list[Trader]) -> float:
    """Gross notional of the book, USD at opening prices."""
    return sum(abs(pos.notional_usd) for t in book for pos in t.positions)
