"""Margin read models: an account's positions, equity, initial and maintenance margin and health;
oracle prices; the USD books (zero-sum check)."""

from __future__ import annotations

from pydantic import BaseModel

from relayer.chain.margin import MarginContracts
from relayer.chain.orders import pending_order
from relayer.context import Context
from relayer.services.units import fmt_amount
from relayer.types import checksum

PRICE_STATUS = ("Ok", "Stale", "Invalid", "SequencerDown")


class PositionView(BaseModel):
    """One open position, valued now."""

    market: str
    size: int
    """Base units (1e18), positive long, negative short."""
    size_text: str
    last_price: int
    """Price the position was last settled at (PnL is realized into the USD balance at every trade)."""
    mark_price: int
    """The oracle price it is valued at (last good price when stale)."""
    pnl: int
    """Unrealized PnL since `last_price`, net of funding (1e18 USD)."""
    initial_margin: int
    maintenance_margin: int
    price_status: str
    """Ok, Stale, Invalid or SequencerDown (the position is counted at the last good price whatever the status)."""


class OrderView(BaseModel):
    """A committed delayed order waiting for its settlement price."""

    market: str
    size_delta: int
    size_text: str
    acceptable_price: int
    escrow: int
    """Keeper reward escrowed from the USD balance (1e18 USD)."""
    settle_from: int
    """Fills at the first oracle round published at or after this time."""
    expires_at: int


class MarginView(BaseModel):
    """An account's cross-margin state: every figure is 1e18 USD."""

    address: str
    equity: int
    """Weighted collateral + USD balance + unrealized PnL net of funding."""
    collateral_value: int
    usd_balance: int
    initial_margin: int
    maintenance_margin: int
    has_positions: bool
    prices_ok: bool
    """Every price the account holds is Ok (withdrawals and risk-increasing trades need it)."""
    liquidation_prices_ok: bool
    """Every market it holds is priced Ok and the sequencer is up (liquidations need it)."""
    liquidatable: bool
    health: str
    """healthy, below initial margin (no new risk), liquidatable, or prices not fresh (liquidations wait)."""
    margin_ratio: float | None
    """equity / maintenance margin (None without positions); below 1 means liquidatable."""
    positions: list[PositionView]
    pending_orders: list[OrderView]


def health_label(equity: int, im: int, mm: int, prices_ok: bool, has_positions: bool) -> str:
    """A one-word summary of the engine's verdict."""
    if not prices_ok:
        return "prices not fresh"
    if equity < mm:
        return "liquidatable"
    if has_positions and equity < im:
        return "below initial margin"
    return "healthy"


def margin_view(ctx: Context, address: str, contracts: MarginContracts | None = None) -> MarginView:
    """Positions and health of `address` from the risk engine and each market."""
    contracts = contracts or ctx.margin()
    hub = contracts.client
    account = checksum(address)
    health = hub.call(contracts.engine.functions.health(account))
    equity, im, mm, collateral, has_positions, prices_ok, liquidation_ok = (
        int(health[0]),
        int(health[1]),
        int(health[2]),
        int(health[3]),
        bool(health[4]),
        bool(health[5]),
        bool(health[6]),
    )
    positions = []
    orders = []
    for name, market in contracts.markets.items():
        order = pending_order(market, account)
        if order is not None:
            orders.append(OrderView(
                market=name, size_delta=order.size_delta, size_text=fmt_amount(order.size_delta, 18),
                acceptable_price=order.acceptable_price, escrow=order.escrow,
                settle_from=order.settle_from, expires_at=order.expires_at,
            ))
        size, last_price, _ = hub.call(market.functions.positions(account))
        if size == 0:
            continue
        state = hub.call(market.functions.marginState(account))
        positions.append(
            PositionView(
                market=name,
                size=int(size),
                size_text=fmt_amount(int(size), 18),
                last_price=int(last_price),
                mark_price=int(state[4]),
                pnl=int(state[1]),
                initial_margin=int(state[2]),
                maintenance_margin=int(state[3]),
                price_status=PRICE_STATUS[int(state[5])],
            )
        )
    return MarginView(
        address=account,
        equity=equity,
        collateral_value=collateral,
        usd_balance=int(hub.call(contracts.ledger.functions.usdBalanceOf(account))),
        initial_margin=im,
        maintenance_margin=mm,
        has_positions=has_positions,
        prices_ok=prices_ok,
        liquidation_prices_ok=liquidation_ok,
        liquidatable=liquidation_ok and equity < mm,
        health=health_label(equity, im, mm, prices_ok, has_positions),
        margin_ratio=round(equity / mm, 4) if mm else None,
        positions=positions,
        pending_orders=orders,
    )


class PriceView(BaseModel):
    """One oracle feed now."""

    feed: str
    feed_id: int
    price: int
    """1e18 USD: the last good price when not Ok (0 only if the feed never had one)."""
    updated_at: int
    status: str
    heartbeat: int
    max_move_bps: int


def prices_view(ctx: Context, contracts: MarginContracts | None = None) -> list[PriceView]:
    """Every feed's price, age and status as the oracle reports it."""
    contracts = contracts or ctx.margin()
    out = []
    for symbol, feed in contracts.config.feeds.items():
        price, updated_at, status = contracts.client.call(contracts.oracle.functions.getPrice(feed.feed_id))
        config = contracts.client.call(contracts.oracle.functions.feedOf(feed.feed_id))
        out.append(
            PriceView(
                feed=symbol,
                feed_id=feed.feed_id,
                price=int(price),
                updated_at=int(updated_at),
                status=PRICE_STATUS[int(status)],
                heartbeat=int(config[3]),
                max_move_bps=int(config[2]),
            )
        )
    return out


class UsdBooks(BaseModel):
    """The ledger's USD accounting: every USD balance sums to the recorded bad debt."""

    block: int
    accounts: int
    """Accounts that ever sent or received USD."""
    sum_usd: int
    bad_debt: int

    @property
    def balanced(self) -> bool:
        """Σ USD balances == ledger.badDebt() (zero-sum transfers, write-offs recorded)."""
        return self.sum_usd == self.bad_debt


def usd_books(ctx: Context, block: int | None = None, contracts: MarginContracts | None = None) -> UsdBooks:
    """Σ USD balances over every account in a UsdTransferred or BadDebtWrittenOff event, and the
    ledger's bad debt, both at `block` (latest by default)."""
    contracts = contracts or ctx.margin()
    hub = contracts.client
    block = int(hub.block_number()) if block is None else block
    ledger = contracts.ledger
    accounts: set[str] = set()
    for event in (ledger.events.UsdTransferred(), ledger.events.BadDebtWrittenOff()):
        for raw in hub.get_logs(ledger.address, [event.topic], contracts.config.start_block, block):
            args = event.process_log(raw)["args"]
            accounts |= {v for k, v in args.items() if k in ("from", "to", "account")}
    total = sum(int(hub.call(ledger.functions.usdBalanceOf(a), block)) for a in sorted(accounts))
    return UsdBooks(
        block=block, accounts=len(accounts), sum_usd=total, bad_debt=int(hub.call(ledger.functions.badDebt(), block))
    )
