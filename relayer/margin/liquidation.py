"""Mirror of LiquidationModule's amounts: close sizes, capped reward/penalty, collateral sales, and
of the settlement (USD <-> USDC at par) and LP vault share maths."""

from pydantic import BaseModel

from relayer.margin.maths import ONE

BPS_TO_WAD = 10**14


class Sale(BaseModel):
    """One collateral sale to the liquidator."""

    amount: int
    """Ledger units of collateral transferred to the liquidator."""
    repay: int
    """USD (1e18) the liquidator pays into the account."""


def close_size(size: int, fraction: int) -> int:
    """|size| x fraction, rounded down (what one liquidation round closes)."""
    return abs(size) * fraction // ONE


def liquidation_notional(close: int, price: int) -> int:
    """Closed notional as PerpMarket.liquidationClose reports it (rounded up)."""
    return -((-close * price) // ONE)


def reward_and_penalty(notional: int, released_mm: int, reward_rate: int, penalty_rate: int) -> tuple[int, int]:
    """Liquidator reward and insurance penalty, together capped by the maintenance margin released."""
    reward = min(notional * reward_rate // ONE, released_mm)
    penalty = min(notional * penalty_rate // ONE, released_mm - reward)
    return reward, penalty


def cap_by_equity(reward: int, penalty: int, equity_after_close: int) -> tuple[int, int]:
    """Reward then penalty capped by the equity the close left (never below zero): a liquidation
    cannot turn positive equity into a deficit (issue 8, scenario 7)."""
    room = max(equity_after_close, 0)
    reward = min(reward, room)
    return reward, min(penalty, room - reward)


USD_ONE = 10**18


def settle_amounts(usd: int, own_units: int, counterparty_units: int, unit: int) -> tuple[int, int]:
    """Settlement.settle: (USD moved, asset units moved); positive pays the account from the
    counterparty (floored), negative nets the account's own USDC (ceil, capped by its balance)."""
    if usd > 0:
        units = min(usd * unit // USD_ONE, counterparty_units)
        return units * USD_ONE // unit, units
    if usd < 0:
        units = min(-((usd * unit) // USD_ONE), own_units)
        return -(units * USD_ONE // unit), units
    return 0, 0


VIRTUAL_SHARES = 10**18
VIRTUAL_ASSETS = 10**18


def vault_shares_for(value_usd: int, total_shares: int, equity: int) -> int:
    """LPVault.deposit: shares for `value_usd` (1e18), floored, virtual offset included."""
    return value_usd * (total_shares + VIRTUAL_SHARES) // (equity + VIRTUAL_ASSETS)


def vault_value_of(shares: int, total_shares: int, equity: int) -> int:
    """LPVault.executeRedeem: USD value (1e18) of `shares`, floored; 0 when equity <= 0."""
    return shares * (equity + VIRTUAL_ASSETS) // (total_shares + VIRTUAL_SHARES) if equity > 0 else 0


def collateral_sale(balance: int, decimals: int, price: int, weight_bps: int, discount: int, limit: int) -> Sale:
    """Sale of one asset at min(discount, 1 - weight) below `price`, up to `limit` USD (a weight-0
    asset sells at the full discount: every collateral is sold before insurance pays)."""
    if balance == 0 or price == 0:
        return Sale(amount=0, repay=0)
    haircut = ONE - weight_bps * BPS_TO_WAD
    sale_price = -((-price * (ONE - min(discount, haircut))) // ONE)  # rounded up
    max_value = -((-balance * sale_price) // 10**decimals)  # rounded up
    repay = min(limit, max_value)
    amount = balance if repay == max_value else repay * 10**decimals // sale_price
    if amount == 0 or repay == 0:
        return Sale(amount=0, repay=0)
    return Sale(amount=amount, repay=repay)
