"""Mirror of LiquidationModule's amounts: close sizes, capped reward/penalty, collateral sales."""

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


def collateral_sale(balance: int, decimals: int, price: int, weight_bps: int, discount: int, limit: int) -> Sale:
    """Sale of one asset at min(discount, 1 - weight) below `price`, up to `limit` USD."""
    if balance == 0 or weight_bps == 0:
        return Sale(amount=0, repay=0)
    haircut = ONE - weight_bps * BPS_TO_WAD
    sale_price = -((-price * (ONE - min(discount, haircut))) // ONE)  # rounded up
    max_value = -((-balance * sale_price) // 10**decimals)  # rounded up
    repay = min(limit, max_value)
    amount = balance if repay == max_value else repay * 10**decimals // sale_price
    if amount == 0 or repay == 0:
        return Sale(amount=0, repay=0)
    return Sale(amount=amount, repay=repay)
