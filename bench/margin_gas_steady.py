"""The steady-state rows of bench/margin_gas.py (issue 10): the partial and full liquidations and a
settle of an open, feeds synced, in a book skewed for a day before the positions open (funding
indices and aggregate sums non-zero) and with a liquidator, insurance fund and pool already
holding USD. Reported next to the first-time rows, never instead of them. Used by
`margin_gas.py` (its own anvil on `XMARGIN_BENCH_BASE_PORT` + 43) and by
`margin_gas_trace.py --steady`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from margin_gas import Bench, _shock_until_liquidatable

from _stress_chain import MAX_UINT, account
from _targets import FLOOR_OF

STEADY_SEASON_S = 86_400
"""Seconds a skewed book is held before the steady-state accounts open (the funding indices move
well away from 0, as in any market older than its first trades)."""


STEADY_BLOCK_S = 12
"""Seconds between the two steady-state liquidations: the second is in a later block, so its closes
accrue funding (an accrual in the same second as the last one is skipped and would flatter it)."""


SIGNED = ", signed feeds"
"""Suffix of the rows measured with signed-report feeds (prices pushed into the oracle's storage)."""


def steady_state_figures(port: int, signed: bool = False) -> dict[str, Any]:
    """The steady-state rows, next to margin_gas.py's first-time rows (never instead of them): the same
    partial and full liquidations, feeds synced, in a market that is not young (funding indices and
    aggregate sums already non-zero when the positions open) and with a liquidator, an insurance
    fund and a pool that already hold USD (an identical account was liquidated just before). What
    a keeper pays round after round, without the first-time zero-to-non-zero stores; and the
    settle of an open by a keeper that already earned a settlement reward. With `signed`, every feed
    is a signed-report feed (bench/_signed_feeds.py) and each row's name ends in SIGNED. Each row
    comes with its state floor (a row named FLOOR_OF after it), from the opcode trace."""
    suffix = SIGNED if signed else ""
    b = Bench(port, signed=signed, anvil_args=("--steps-tracing",))
    floors: dict[str, int] = {}

    def floor(row: str, receipt: Any) -> None:
        floors[row + suffix + FLOOR_OF] = b.kinds(receipt).state

    try:
        rows = _steady(b, floor)
    finally:
        b.ch.close()
    return {**{row + suffix: gas for row, gas in rows.items()}, **floors}


def _steady(b: Bench, seen: Callable[[str, Any], None] | None = None) -> dict[str, Any]:
    """`seen(row, receipt)`, when given, is called after each measured transaction, before any
    snapshot is reverted (bench/margin_gas_trace.py traces it there)."""
    ch = b.ch
    out: dict[str, Any] = {}

    def note(row: str, gas: int) -> None:
        out[row] = gas
        if seen is not None:
            seen(row, b.last_receipt)

    season, trader, liquidator = account("season", 0), account("trader", 0), account("liquidator", 0)
    parts = [account("steady-partial", i) for i in range(2)]
    fulls = [account("steady-full", i) for i in range(2)]
    ch.deposit([(season, "USDC", 100_000, 101), (trader, "USDC", 10_000, 101), (liquidator, "USDC", 1_000_000, 101)]
               + [(a, "USDC", 5_000, 101) for a in parts] + [(a, "ETH", 1, 101) for a in parts]
               + [(a, "USDC", 2_000, 101) for a in fulls] + [(a, "ETH", 1, 101) for a in fulls])
    b.order("ETH", season, 20)  # a skewed book for a day: funding accrues in both markets
    b.order("BTC", season, 1)
    ch.advance(STEADY_SEASON_S)
    b.scale(1.0)
    b.order("ETH", trader, 1)  # the keeper earns a settlement reward (its USD balance is non-zero)
    b.sync_feeds()
    note("settleOrder (open), feeds synced first, steady state", b.order("BTC", trader, 0.1, sync=True)[1])
    for who, (eth, btc) in [(a, (8, 0.5)) for a in parts] + [(a, (4, 0.2)) for a in fulls]:
        b.order("ETH", who, eth)
        b.order("BTC", who, btc)
    snap = b.snapshot()
    _shock_until_liquidatable(b, parts[0])
    b.sync_feeds()
    for who in parts:
        ch.advance(STEADY_BLOCK_S)  # a later block: each close accrues funding (as a keeper's next round does)
        gas, ev = b.liquidate(who, 0, liquidator)
        if ev["Liquidated"] != 1 or ev["full"]:
            raise RuntimeError(f"the steady-state partial liquidation was not partial: {ev}")
    note("liquidate: partial, feeds synced, steady state", gas)  # the second: the first paid the first-time stores
    b.revert(snap)
    b.scale(0.72)
    b.sync_feeds()
    for who in fulls:
        ch.advance(STEADY_BLOCK_S)
        gas, ev = b.liquidate(who, MAX_UINT, liquidator)
        if not (ev["full"] and ev["CollateralSold"] >= 2 and ev["InsuranceUsed"] == 1):
            raise RuntimeError(f"the steady-state full liquidation did not sell collateral and use insurance: {ev}")
    note("liquidate: full, sale and insurance, feeds synced, steady state", gas)  # the second
    return out
