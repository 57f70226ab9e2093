"""Auto-deleveraging order (docs/margin.md "LP vault"): which profitable positions the keeper closes
first while the vault `needsDeleverage()`. Highest unrealised PnL × leverage first (dYdX v4's
deleveraging ranking; Hyperliquid ranks by PnL % × leverage, the same order for one market). Pure."""

from pydantic import BaseModel

from relayer.margin.maths import ONE


class AdlCandidate(BaseModel):
    """One open position as the keeper reads it (every USD figure 1e18)."""

    market: str
    account: str
    size: int
    """Signed base units (1e18)."""
    pnl: int
    """Unrealised PnL net of funding, what the contract checks (`marginState.pnl`)."""
    notional: int
    """|size| × mark price."""
    equity: int
    """The account's cross-margin equity (collateral + USD + every market's PnL)."""


def leverage(candidate: AdlCandidate) -> int | None:
    """notional / equity (1e18 = 1x); None when the equity is not positive (unbounded leverage)."""
    if candidate.equity <= 0:
        return None
    return candidate.notional * ONE // candidate.equity


def adl_score(candidate: AdlCandidate) -> int | None:
    """PnL × leverage (1e18 USD); None for a position ADL may not touch (flat or not in profit)."""
    if candidate.size == 0 or candidate.pnl <= 0:
        return None
    lev = leverage(candidate)
    return candidate.pnl * (lev if lev is not None else 0) // ONE


def rank(candidates: list[AdlCandidate]) -> list[AdlCandidate]:
    """Profitable positions, highest PnL × leverage first. An account whose equity is not positive
    (unbounded leverage) goes first; ties by larger PnL, then account and market (deterministic)."""
    eligible = [c for c in candidates if adl_score(c) is not None]

    def key(c: AdlCandidate) -> tuple[int, int, int, str, str]:
        unbounded = 0 if leverage(c) is None else 1
        return (unbounded, -(adl_score(c) or 0), -c.pnl, c.account.lower(), c.market)

    return sorted(eligible, key=key)
