"""Account health as RiskEngine.health computes it, from explicit inputs."""

from relayer.margin.maths import margins, pnl
from relayer.margin.models import AccountInputs, Health

BPS = 10_000
DOUBTFUL_BPS = 5_000
"""RiskEngine.DOUBTFUL_BPS: share of the last good price a Stale / Invalid collateral is worth."""
STALE, INVALID = 1, 2


def policy_price(price: int, status: int) -> int:
    """RiskEngine.collateralPrice: the oracle's (last good) price, x DOUBTFUL_BPS when Stale or Invalid."""
    return price * DOUBTFUL_BPS // BPS if status in (STALE, INVALID) else price


def collateral_value(balance: int, decimals: int, weight_bps: int, price: int) -> int:
    """balance x price x weight, rounded down (collateral is never over-valued)."""
    return balance * price * weight_bps // (10**decimals * BPS)


def account_health(inputs: AccountInputs) -> Health:
    """Equity, IM and MM of an account: weighted collateral + USD + PnL net of funding. Every position
    counts whatever its price status (pass the last good price); collateral follows `policy_price`."""
    coll = sum(
        collateral_value(c.balance, c.decimals, c.weight_bps, policy_price(c.price, c.status))
        for c in inputs.collateral
    )
    equity = inputs.usd_balance + coll
    im_total = mm_total = 0
    for p in inputs.positions:
        if p.size == 0:
            continue
        equity += pnl(p.size, p.price, p.last_price, p.funding, p.last_funding)
        im, mm = margins(p.size, p.price, p.params.imf_base, p.params.imf_slope, p.params.mm_ratio)
        im_total += im
        mm_total += mm
    return Health(equity=equity, initial_margin=im_total, maintenance_margin=mm_total, collateral_value=coll)
