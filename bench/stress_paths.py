"""Price paths for the crash replay (pure: bars in, steps out, no I/O).

Each hourly (or daily) OHLC bar is bridged into four oracle steps: open -> adverse extreme -> other
extreme -> close. "Adverse" is the extreme that hurts the book (the low for a long-heavy book in a
crash, the high for a short-heavy book in a squeeze), so liquidations meet the intrabar wick before
the bar can recover. The data does not say which extreme came first; putting the adverse one first
is the conservative order. Hourly closes alone are kept as the comparison column (`closes_only`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Side = Literal["crash", "squeeze"]
STEPS_PER_BAR = 4


@dataclass(frozen=True)
class Bar:
    """One OHLC bar; `t` is the bar's open as an ISO-8601 UTC string."""

    t: str
    open: float
    high: float
    low: float
    close: float


@dataclass(frozen=True)
class Step:
    """One oracle push: seconds since the path's start, ETH and BTC prices, and the bar it bridges."""

    seconds: int
    eth: float
    btc: float
    bar: int


def mirror_bar(bar: Bar, start: float) -> Bar:
    """The bar reflected about `start`: price x (2 - price / start) = 2 start - price; high and low swap."""
    if bar.high >= 2 * start:
        raise ValueError(f"bar at {bar.t} is more than 2x the start price: its mirror would be <= 0")
    return Bar(bar.t, 2 * start - bar.open, 2 * start - bar.low, 2 * start - bar.high, 2 * start - bar.close)


def mirror(bars: list[Bar]) -> list[Bar]:
    """A crash mirrored into a squeeze about the first open (falls of x% become rises of x%)."""
    start = bars[0].open
    return [mirror_bar(b, start) for b in bars]


def bridge_bar(bar: Bar, side: Side) -> tuple[float, float, float, float]:
    """open, adverse extreme, other extreme, close."""
    if side == "crash":
        return bar.open, bar.low, bar.high, bar.close
    return bar.open, bar.high, bar.low, bar.close


def bridge(eth: list[Bar], btc: list[Bar], side: Side, bar_seconds: int) -> list[Step]:
    """Both assets bridged step by step (the same order for both: a joint worst case), four steps
    per bar spaced `bar_seconds / 4` apart."""
    if len(eth) != len(btc):
        raise ValueError(f"ETH has {len(eth)} bars, BTC {len(btc)}: the paths must be aligned")
    dt = bar_seconds // STEPS_PER_BAR
    steps: list[Step] = []
    for i, (e, b) in enumerate(zip(eth, btc, strict=True)):
        for k, (pe, pb) in enumerate(zip(bridge_bar(e, side), bridge_bar(b, side), strict=True)):
            steps.append(Step((i * STEPS_PER_BAR + k) * dt, pe, pb, i))
    return steps


def closes_only(eth: list[Bar], btc: list[Bar], bar_seconds: int) -> list[Step]:
    """The comparison column: one step per bar at its close."""
    return [Step((i + 1) * bar_seconds, e.close, b.close, i) for i, (e, b) in enumerate(zip(eth, btc, strict=True))]


def largest_rally(eth: list[Bar], btc: list[Bar], days: int, since: str) -> int:
    """Index in the aligned daily series where the `days`-day window with the largest mean rise of
    ETH and BTC (first open to highest high) starts, among windows starting on or after `since`."""
    if len(eth) != len(btc):
        raise ValueError("daily series must be aligned")
    best, best_i = -1.0, -1
    for i in range(len(eth) - days + 1):
        if eth[i].t < since:
            continue
        rise = sum(max(x.high for x in s[i:i + days]) / s[i].open - 1 for s in (eth, btc)) / 2
        if rise > best:
            best, best_i = rise, i
    if best_i < 0:
        raise ValueError(f"no {days}-day window after {since}")
    return best_i


def align(eth: list[Bar], btc: list[Bar]) -> tuple[list[Bar], list[Bar]]:
    """Only the bars whose timestamps both series have, in order."""
    common = {b.t for b in eth} & {b.t for b in btc}
    return [b for b in eth if b.t in common], [b for b in btc if b.t in common]


def max_step_move(steps: list[Step]) -> float:
    """Largest relative move between consecutive steps, over both assets (the oracle's max-move
    bound must admit it, or a push is refused)."""
    worst = 0.0
    for a, b in zip(steps, steps[1:], strict=False):
        worst = max(worst, abs(b.eth / a.eth - 1), abs(b.btc / a.btc - 1))
    return worst


def usdc_push_every(step_seconds: int, heartbeat_seconds: int) -> int:
    """Every how many steps USDC's (constant) price is pushed so that it never goes stale between
    two steps: half the heartbeat's worth of steps (hourly for 15-minute steps, every step for
    hourly closes and the rally's 6-hour steps). A stale USDC is valued at 50 % (the oracle-failure
    policy), which would halve every USDC balance, the vault's and the fund's included."""
    return max(1, heartbeat_seconds // (2 * step_seconds))
