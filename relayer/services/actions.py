"""Actions the web app takes for the devnet's demo accounts (config `api.demo_accounts`, DEV ONLY):
deposit, withdraw, trade, close, the LP vault (deposit, queue, complete or cancel a redemption) and the
recovery (refund, redirect) or retry of a parked withdrawal, each through the same service functions as the CLI. A real
deployment lists no demo accounts; its page has the user's own wallet sign what /v1/tx/* builds
(relayer.services.unsigned)."""

from __future__ import annotations

from eth_account import Account
from pydantic import BaseModel

from relayer.context import Context
from relayer.errors import ActionError
from relayer.services import recovery, trading, transfers, vault
from relayer.services.recovery import ReleaseRetried
from relayer.services.trading import TradeResult
from relayer.services.transfers import TxResult
from relayer.services.vault import VaultTx


class DemoAccount(BaseModel):
    """A devnet account the page may act for."""

    name: str
    address: str


def demo_accounts(ctx: Context) -> list[DemoAccount]:
    """The configured demo accounts (empty outside the devnet)."""
    return [
        DemoAccount(name=name, address=Account.from_key(key.get_secret_value()).address)
        for name, key in sorted(ctx.settings.api.demo_accounts.items())
    ]


def demo_key(ctx: Context, name: str) -> str:
    """The key of demo account `name`; ActionError naming the known ones."""
    key = ctx.settings.api.demo_accounts.get(name)
    if key is None:
        known = ", ".join(sorted(ctx.settings.api.demo_accounts)) or "none (not a devnet)"
        raise ActionError(f"unknown demo account {name!r}; known: {known}")
    return key.get_secret_value()


def deposit(ctx: Context, name: str, chain: str, token: str, amount: str, beneficiary: str | None) -> TxResult:
    """Deposit from demo account `name` on spoke `chain` for `beneficiary` (default: itself), approval included."""
    key = demo_key(ctx, name)
    return transfers.deposit(ctx, chain, token, amount, beneficiary or Account.from_key(key).address, key)


def withdraw(ctx: Context, name: str, asset: str, amount: str, to_chain: str, recipient: str | None) -> TxResult:
    """Withdraw from demo account `name` to `recipient` (default: itself) on spoke `to_chain`."""
    key = demo_key(ctx, name)
    return transfers.withdraw(ctx, asset, amount, to_chain, recipient or Account.from_key(key).address, key)


def trade(ctx: Context, name: str, market: str, size: str, limit_price: str | None) -> TradeResult:
    """Trade `size` of `market` for demo account `name` (trading.trade: how orders execute lives there)."""
    return trading.trade(ctx, market, size, limit_price, demo_key(ctx, name))


def close(ctx: Context, name: str, market: str) -> TradeResult:
    """Close demo account `name`'s `market` position (trading.close)."""
    return trading.close(ctx, market, demo_key(ctx, name))


def vault_deposit(ctx: Context, name: str, amount: str) -> VaultTx:
    """Deposit `amount` USDC of demo account `name`'s hub balance into the LP vault (vault.deposit)."""
    return vault.deposit(ctx, amount, demo_key(ctx, name))


def vault_redeem(ctx: Context, name: str, shares: str) -> VaultTx:
    """Queue `shares` (or `all`) of demo account `name` for redemption (vault.request_redeem)."""
    return vault.request_redeem(ctx, shares, demo_key(ctx, name))


def vault_execute(ctx: Context, name: str, redemption_id: int) -> VaultTx:
    """Complete queued redemption `redemption_id`, sent by demo account `name` (vault.execute_redeem)."""
    return vault.execute_redeem(ctx, redemption_id, demo_key(ctx, name))


def vault_cancel(ctx: Context, name: str, redemption_id: int) -> VaultTx:
    """Cancel demo account `name`'s queued redemption `redemption_id` (vault.cancel_redeem)."""
    return vault.cancel_redeem(ctx, redemption_id, demo_key(ctx, name))


def recover(ctx: Context, name: str, chain: str, nonce: int, new_recipient: str | None) -> TxResult:
    """Redirect (to `new_recipient`) or refund (None) demo account `name`'s withdrawal `nonce` parked
    on `chain` (recovery.request_recovery)."""
    return recovery.request_recovery(ctx, chain, nonce, new_recipient, demo_key(ctx, name))


def retry(ctx: Context, name: str, chain: str, nonce: int) -> ReleaseRetried:
    """Retry paying withdrawal `nonce` parked on `chain`, sent by demo account `name` on that spoke
    (recovery.retry_release)."""
    return recovery.retry_release(ctx, chain, nonce, demo_key(ctx, name))
