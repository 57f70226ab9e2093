"""`xmargin vault ...`: the LP vault for liquidity providers: deposit hub USDC for shares, queue a
redemption, execute or cancel it once its delay has passed, and the vault's status. Registered on
the main app by relayer.cli; the work is relayer.services.vault's (the API serves the same views)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from relayer._cli import DEFAULT_CONFIG, ConfigOpt, KeyOpt, config_context, not_running, out, user_key
from relayer.errors import RpcUnavailableError

if TYPE_CHECKING:  # imported lazily at run time (fast --help)
    from relayer.services.vault import VaultTx, VaultView

vault_app = typer.Typer(help="The LP vault (the markets' counterparty): deposit, redeem with a delay, status.")


def _print_tx(result: VaultTx) -> None:
    """One line per mined vault action."""
    from relayer.services.units import fmt_amount

    shares = fmt_amount(result.shares, 18)
    if result.action == "deposit":
        out.print(f"deposited {fmt_amount(result.assets, 18)} USDC into the LP vault for {shares} shares; "
                  f"tx {result.tx_hash}")
    elif result.action == "redeem_requested":
        out.print(f"redemption {result.redemption_id} queued: {shares} shares, executable from t={result.ready_at} "
                  f"(`xmargin vault execute {result.redemption_id}`); tx {result.tx_hash}")
    elif result.action == "redeemed":
        out.print(f"redemption {result.redemption_id} paid: {shares} shares for {fmt_amount(result.assets, 18)} USDC "
                  f"(on your hub balance: `xmargin withdraw` takes it to a spoke); tx {result.tx_hash}")
    else:
        out.print(f"redemption {result.redemption_id} cancelled: {shares} shares are yours again; tx {result.tx_hash}")


@vault_app.command("deposit")
def vault_deposit(
    amount: Annotated[str, typer.Argument(help="Whole USDC of your hub balance, e.g. 1000")],
    key: KeyOpt = None,
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Deposit USDC from your hub balance into the LP vault for shares at the share price now."""
    from relayer.services import vault

    sender_key = user_key(key)
    try:
        result = vault.deposit(config_context(config, quick=False), amount, sender_key)
    except RpcUnavailableError as error:
        not_running(error)
    _print_tx(result)


@vault_app.command("redeem")
def vault_redeem(
    shares: Annotated[str, typer.Argument(help="Shares to redeem (decimal), or `all`")],
    key: KeyOpt = None,
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Queue shares for redemption: executable after the vault's delay, paid at the share price then."""
    from relayer.services import vault

    sender_key = user_key(key)
    try:
        result = vault.request_redeem(config_context(config, quick=False), shares, sender_key)
    except RpcUnavailableError as error:
        not_running(error)
    _print_tx(result)


@vault_app.command("execute")
def vault_execute(
    redemption_id: Annotated[int, typer.Argument(metavar="ID", help="Redemption id (`xmargin vault status`)")],
    key: KeyOpt = None,
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Execute a queued redemption once its delay has passed (anyone may; its owner is paid in USDC)."""
    from relayer.services import vault

    sender_key = user_key(key)
    try:
        result = vault.execute_redeem(config_context(config, quick=False), redemption_id, sender_key)
    except RpcUnavailableError as error:
        not_running(error)
    _print_tx(result)


@vault_app.command("cancel")
def vault_cancel(
    redemption_id: Annotated[int, typer.Argument(metavar="ID", help="Your redemption's id")],
    key: KeyOpt = None,
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Cancel your queued redemption; its shares come back."""
    from relayer.services import vault

    sender_key = user_key(key)
    try:
        result = vault.cancel_redeem(config_context(config, quick=False), redemption_id, sender_key)
    except RpcUnavailableError as error:
        not_running(error)
    _print_tx(result)


@vault_app.command("status")
def vault_status(
    owner: Annotated[str | None, typer.Argument(help="LP address (default: the --key's)")] = None,
    key: KeyOpt = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Equity, share price, total shares, traders' PnL, the max-PnL factor, whether ADL may run; your
    shares and queued redemptions with the time each is ready."""
    from eth_account import Account

    from relayer.services import vault
    from relayer.services.units import parse_address

    who = parse_address(owner) if owner else Account.from_key(user_key(key)).address
    try:
        view = vault.vault_view(config_context(config), who)
    except RpcUnavailableError as error:
        not_running(error)
    if as_json:
        out.print_json(json.dumps(view.model_dump()))
        return
    _print_status(view)


def _print_status(view: VaultView) -> None:
    """The vault's figures, then the LP's."""
    from relayer.services.units import fmt_amount, usd

    def pct(x: int) -> str:
        return f"{x * 100 / 10**18:.2f} %"

    out.print(f"LP vault {view.address}")
    out.print(f"  equity {usd(view.equity)} (USDC {view.usdc / 10**18:,.2f}, USD {usd(view.usd_balance)}, "
              f"traders' open PnL against it {usd(view.traders_pnl)}); IM {usd(view.initial_margin)}, "
              f"MM {usd(view.maintenance_margin)}")
    out.print(f"  share price {usd(view.share_price)}; total shares {fmt_amount(view.total_shares, 18)}; "
              f"redeem delay {view.redeem_delay} s")
    over = "[red]EXCEEDED[/red]" if view.pnl_factor_exceeded else "ok"
    out.print(f"  max-PnL factor: traders' profit is {pct(view.pnl_factor)} of the vault's assets, "
              f"cap {pct(view.max_pnl_factor)}: {over}")
    adl = "[red]yes: the keeper deleverages profitable positions[/red]" if view.needs_deleverage else "no"
    out.print(f"  needs deleverage: {adl}" + ("" if view.prices_ok else " (a price is not fresh: share price waits)"))
    if view.owner is None:
        return
    o = view.owner
    out.print(f"{o.owner}: {fmt_amount(o.shares, 18)} shares worth {usd(o.value)}; "
              f"{o.usdc / 10**18:,.2f} USDC on the hub to deposit")
    for r in o.pending:
        state = "ready: `xmargin vault execute " + str(r.id) + "`" if r.ready else \
            f"ready in {r.ready_at - view.block_timestamp} s (t={r.ready_at})"
        out.print(f"  redemption {r.id}: {fmt_amount(r.shares, 18)} shares (now worth {usd(r.value)}), {state}")
