"""Seed the devnet's LP vault: once the relayer has credited the LP's deploy-time USDC on the hub,
the LP deposits all of it through `LPVault.deposit` (the same service `xmargin vault deposit` uses).
Idempotent: an LP that already holds shares is left alone. Every wait is a poll with a deadline."""

from __future__ import annotations

from collections.abc import Callable

from eth_account import Account

from relayer.chain.margin import MarginContracts
from relayer.context import Context
from relayer.devnet._proc import poll
from relayer.devnet.deploy_margin import FUNDING_USDC
from relayer.devnet.layout import LP_KEY
from relayer.services import vault
from relayer.services.margin import prices_view
from relayer.services.units import usd

Report = Callable[[str], None]
CREDIT_TIMEOUT_S = 90.0
PRICES_TIMEOUT_S = 60.0


def seed_vault(ctx: Context, contracts: MarginContracts | None = None, report: Report = print) -> None:
    """Wait for the LP's USDC on the hub, then deposit it into the vault (skipped once the LP holds shares)."""
    contracts = contracts or ctx.margin()
    lp = Account.from_key(LP_KEY).address
    if int(contracts.client.call(contracts.vault.functions.sharesOf(lp))) > 0:
        return
    usdc = ctx.deployment.assets["USDC"]
    amount = FUNDING_USDC["lp"]
    poll(lambda: int(contracts.client.call(contracts.ledger.functions.balanceOf(lp, usdc))) >= amount * 10**18,
         "the LP's USDC to be credited on the hub", CREDIT_TIMEOUT_S, interval_s=0.5)
    poll(lambda: all(p.status == "Ok" for p in prices_view(ctx, contracts)), "every price to be fresh",
         PRICES_TIMEOUT_S, interval_s=0.5)  # the share price needs them
    result = vault.deposit(ctx, str(amount), LP_KEY)
    view = vault.vault_view(ctx, contracts=contracts)
    report(f"LP vault {view.address}: the LP deposited {amount:,} USDC for {result.shares / 10**18:,.0f} shares "
           f"(equity {usd(view.equity)}, share price {usd(view.share_price)})")
