"""`xmargin` commands for traders and the devnet's price feeds: account (balances and margin), trade,
close, and `oracle serve | push | prices`. Registered on the main app by relayer.cli."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from relayer._cli import (
    DEFAULT_CONFIG,
    ConfigOpt,
    KeyOpt,
    config_context,
    fail,
    not_running,
    out,
    user_key,
)
from relayer.errors import RpcUnavailableError

oracle_app = typer.Typer(help="Devnet price feeds: the pusher service, queued price paths, current prices.")


def account(
    address: Annotated[Optional[str], typer.Argument(help="Hub account address (default: the --key's)")] = None,
    key: KeyOpt = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Balances per asset (withdrawable per spoke), claims, and margin: positions, equity, IM, MM, health."""
    from eth_account import Account

    from relayer.services.accounts import account_with_margin, collateral_view

    ctx = config_context(config)
    address = address or Account.from_key(user_key(key)).address
    try:
        view = collateral_view(ctx, address)
        acct = account_with_margin(ctx, address)
    except RpcUnavailableError as error:
        not_running(error)
    if as_json:
        out.print_json(json.dumps({"account": acct.model_dump(), "collateral": view.model_dump()}))
        return
    _print_balances(acct, view)
    if acct.margin is not None:
        _print_margin(acct.margin)


def _print_balances(acct, view) -> None:  # noqa: ANN001 - AccountWithMargin, CollateralView
    """Collateral table, claims and USD balance."""
    from relayer.services.units import fmt_amount

    table = Table(title=f"account {acct.address}")
    table.add_column("asset")
    table.add_column("balance", justify="right")
    for chain in view.by_chain:
        table.add_column(f"withdrawable on {chain.chain}", justify="right")
    for bal in acct.balances:
        table.add_row(bal.symbol, bal.amount, *[c.withdrawable.get(bal.symbol, "-") for c in view.by_chain])
    out.print(table)
    for claim in acct.claims:
        out.print(f"claim: {claim.amount} units of {claim.symbol} ({claim.token}) on {claim.chain}, valued at 0")
    out.print(f"USD balance: {fmt_amount(acct.usd_balance, 18)}")


def _print_margin(margin) -> None:  # noqa: ANN001 - relayer.services.margin.MarginView
    """Positions table and the account's health figures."""
    from relayer.services.units import usd

    if margin.positions:
        table = Table(title="positions")
        for column in ("market", "size", "settled at", "mark", "PnL", "IM", "MM", "price"):
            table.add_column(column, justify="left" if column in ("market", "price") else "right")
        for p in margin.positions:
            table.add_row(p.market, p.size_text, usd(p.last_price), usd(p.mark_price), usd(p.pnl),
                          usd(p.initial_margin), usd(p.maintenance_margin), p.price_status)
        out.print(table)
    else:
        out.print("positions: none")
    for o in margin.pending_orders:
        limit = "any price" if o.acceptable_price in (0, 2**256 - 1) else f"limit {usd(o.acceptable_price)}"
        out.print(f"pending order: {o.size_text} {o.market} ({limit}), fills at the first price published from "
                  f"t={o.settle_from}, expires at t={o.expires_at}; keeper reward {usd(o.escrow)} escrowed")
    colour = {"healthy": "green", "below initial margin": "yellow"}.get(margin.health, "red")
    ratio = f" (equity/MM {margin.margin_ratio:.2f})" if margin.margin_ratio is not None else ""
    out.print(f"equity {usd(margin.equity)} (collateral {usd(margin.collateral_value)}, USD {usd(margin.usd_balance)}); "
              f"IM {usd(margin.initial_margin)}, MM {usd(margin.maintenance_margin)}; "
              f"health: [{colour}]{margin.health}[/{colour}]{ratio}")


def trade(
    market: Annotated[str, typer.Option("--market", help="Market, e.g. ETH-USD")],
    size: Annotated[str, typer.Option("--size", help="Signed base units: 2.5 buys 2.5 ETH, -1 sells 1")],
    limit_price: Annotated[Optional[str], typer.Option("--limit-price", help="Worst USD fill accepted (else the order is cancelled)")] = None,
    key: KeyOpt = None,
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Open, grow, shrink or flip a position: commits a delayed order and waits until it fills at the first
    oracle price published after the minimum delay (margined by collateral from every spoke)."""
    from relayer.services import trading

    sender_key = user_key(key)
    try:
        result = trading.trade(config_context(config, quick=False), market, size, limit_price, sender_key)
    except RpcUnavailableError as error:
        not_running(error)
    _print_trade(result)


def close(
    market: Annotated[str, typer.Option("--market", help="Market, e.g. ETH-USD")],
    key: KeyOpt = None,
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Close the whole position in a market through a delayed order (fills at the next published price)."""
    from relayer.services import trading

    sender_key = user_key(key)
    try:
        result = trading.close(config_context(config, quick=False), market, sender_key)
    except RpcUnavailableError as error:
        not_running(error)
    _print_trade(result)


def _print_trade(result) -> None:  # noqa: ANN001 - relayer.services.trading.TradeResult
    """One line per mined trade."""
    from relayer.services.units import fmt_amount, usd

    side = "bought" if result.size_delta > 0 else "sold"
    out.print(f"{side} {fmt_amount(abs(result.size_delta), 18)} {result.market} at {usd(result.price)} "
              f"(fee {usd(result.fee)}, realized {usd(result.realized_pnl)}): position now "
              f"{fmt_amount(result.new_size, 18)}; tx {result.tx_hash}")


# ------------------------------------------------------------------------------------ oracle


@oracle_app.command("serve")
def oracle_serve(config: ConfigOpt = DEFAULT_CONFIG) -> None:
    """Run the devnet's oracle pusher: queued price paths, and refreshes that keep prices fresh."""
    import threading

    from relayer.logs import configure_logging

    ctx = config_context(config, quick=False)
    if ctx.settings.oracle is None:
        fail(f"{config} has no `oracle:` section (the pusher's key)")
    configure_logging()
    service = ctx.oracle_service()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        service.serve(ctx.settings.oracle.step_s, stop, report=lambda m: print(m, flush=True))
    except KeyboardInterrupt:
        stop.set()


@oracle_app.command("push")
def oracle_push(
    feed: Annotated[str, typer.Option("--feed", help="Feed symbol: ETH, BTC, USDC")],
    path: Annotated[Optional[Path], typer.Option("--path", help="Price path CSV (timestamp_utc,open,high,low,close)")] = None,
    start: Annotated[Optional[str], typer.Option("--from", help="First bar to replay (timestamp_utc) of --path")] = None,
    end: Annotated[Optional[str], typer.Option("--to", help="Last bar to replay (timestamp_utc) of --path")] = None,
    prices: Annotated[Optional[str], typer.Option("--prices", help="Comma-separated USD prices instead of --path")] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait until the pusher pushed them all")] = False,
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Queue a price path for the oracle pusher (closes of the CSV's bars, one per pusher step)."""
    from relayer.keeper.oracle_service import queue_path
    from relayer.keeper.pusher import load_path

    if (path is None) == (prices is None):
        fail("give exactly one of --path and --prices")
    if path is not None:
        bars = load_path(path)
        stamps = [b.timestamp for b in bars]
        for stamp in (start, end):
            if stamp is not None and stamp not in stamps:
                fail(f"no bar {stamp} in {path}")
        first = stamps.index(start) if start is not None else 0
        last = stamps.index(end) if end is not None else len(bars) - 1
        values = [b.close for b in bars[first:last + 1]]
    else:
        try:
            values = [float(p) for p in (prices or "").split(",") if p.strip()]
        except ValueError:
            fail(f"--prices must be numbers, got {prices!r}")
    ctx = config_context(config)
    queue = ctx.price_queue()
    length = queue_path(ctx.margin(), queue, feed, values)
    out.print(f"queued {len(values)} {feed} prices ({values[0]:g} .. {values[-1]:g}); {length} waiting for the pusher")
    if wait:
        from relayer.devnet._proc import poll

        step = ctx.settings.oracle.step_s if ctx.settings.oracle else 1.0
        poll(lambda: queue.pending(feed) == 0, f"the pusher to push {length} {feed} prices", 30 + 3 * step * length, 0.5)
        out.print("pushed")


@oracle_app.command("prices")
def oracle_prices(
    config: ConfigOpt = DEFAULT_CONFIG,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Every feed's price, age and status as the oracle reports it."""
    from relayer.services.margin import prices_view
    from relayer.services.units import usd

    ctx = config_context(config)
    try:
        views = prices_view(ctx)
        now = int(ctx.hub.get_block("latest")["timestamp"])
    except RpcUnavailableError as error:
        not_running(error)
    if as_json:
        out.print_json(json.dumps([v.model_dump() for v in views]))
        return
    table = Table(title="oracle feeds")
    for column in ("feed", "id", "price", "age s", "heartbeat s", "status"):
        table.add_column(column, justify="left" if column in ("feed", "status") else "right")
    for v in views:
        table.add_row(v.feed, str(v.feed_id), usd(v.price), str(now - v.updated_at), str(v.heartbeat), v.status)
    out.print(table)
