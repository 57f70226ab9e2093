"""Delayed orders (contracts/margin/PerpOrders.sol, after Synthetix v3's async orders): read a
pending order and find the oracle round it settles at, the FIRST round published at or after
its settlement time. Shared by the keeper (which settles orders for the reward) and the CLI
(which settles its own order when no keeper was faster)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

SIGNED_KIND = 2
"""PriceOracleBase.SourceKind.Signed."""
MAX_ROUNDS_BACK = 64
"""How far back from the latest round the search goes (orders live minutes, rounds come every few seconds)."""


class PendingOrder(BaseModel):
    """A committed, not yet settled order (PerpOrders.orders)."""

    account: str
    size_delta: int
    """Base units (1e18), + buys / - sells."""
    acceptable_price: int
    """1e18 USD: a buy fills at or below it, a sell at or above it."""
    escrow: int
    """Keeper reward escrowed at commit (1e18 USD)."""
    settle_from: int
    """The settlement price must be the first round published at or after this time."""
    expires_at: int
    """After this time the order can only be cancelled (escrow back to the trader)."""


def order_of(account: str, raw: Sequence[Any]) -> PendingOrder | None:
    """A PendingOrder from PerpMarket.orders(account)'s answer (None: no pending order)."""
    delta, acceptable, escrow, settle_from, expires_at = raw
    if int(expires_at) == 0:
        return None
    return PendingOrder(account=account, size_delta=int(delta), acceptable_price=int(acceptable),
                        escrow=int(escrow), settle_from=int(settle_from), expires_at=int(expires_at))


def pending_order(market: Any, account: str) -> PendingOrder | None:
    """`account`'s pending order in `market` (a web3 PerpMarket contract), or None."""
    return order_of(account, market.functions.orders(account).call())


def signed_latest_round(feed: Sequence[Any]) -> int | None:
    """From PriceOracle.feedOf: a signed feed's latest round; None for an aggregator feed (its
    latest round is the aggregator's, at address feed[4])."""
    return int(feed[9]) if int(feed[0]) == SIGNED_KIND else None


def latest_round(oracle: Any, aggregator_abi: list[Any], feed_id: int) -> int:
    """Latest round id of a feed: the aggregator's for aggregator feeds, the last stored report's
    for signed feeds."""
    feed = oracle.functions.feedOf(feed_id).call()
    signed = signed_latest_round(feed)
    if signed is not None:
        return signed
    agg = oracle.w3.eth.contract(address=feed[4], abi=aggregator_abi)
    return int(agg.functions.latestRoundData().call()[0])


EARLIER = -1
"""judge_round: look at the round before."""


def judge_round(order: PendingOrder, round_id: int, price: Sequence[Any]) -> int | None:
    """Whether round `round_id` (PriceOracle.roundPrice's answer `price`) settles `order`: the round
    id if it is the first one published at or after the settlement time and usable, None if the
    order cannot settle yet (or at all: it expires), EARLIER to look at the previous round."""
    _price, at, previous_at, valid = price
    if int(at) < order.settle_from:
        return None  # not published yet
    if int(previous_at) < order.settle_from:
        return round_id if valid and int(at) <= order.expires_at else None
    return EARLIER


def settlement_round(oracle: Any, aggregator_abi: list[Any], feed_id: int, order: PendingOrder) -> int | None:
    """The round `order` settles at, once it is published and valid; None while it is not yet
    published (or when the first round after the settlement time is unusable: the order expires)."""
    r = latest_round(oracle, aggregator_abi, feed_id)
    for _ in range(MAX_ROUNDS_BACK):
        if r < 1:
            return None
        verdict = judge_round(order, r, oracle.functions.roundPrice(feed_id, r).call())
        if verdict != EARLIER:
            return verdict
        r -= 1
    return None
