"""An account's balances per asset, claims, USD balance, collateral per spoke, and margin figures."""

from __future__ import annotations

from pydantic import BaseModel

from relayer.context import Context
from relayer.services.margin import MarginView, margin_view
from relayer.services.units import fmt_amount, parse_address


class AssetBalance(BaseModel):
    """An account's balance of one ledger asset."""

    asset_id: int
    symbol: str
    decimals: int
    balance: int
    """Ledger units (the asset's decimals)."""
    amount: str
    """Human-readable balance."""


class Claim(BaseModel):
    """A deposit of an unlisted (or over-cap) token, kept as a claim valued at 0."""

    chain_id: int
    chain: str
    token: str
    symbol: str
    amount: int
    """Token units."""


class AccountView(BaseModel):
    """An account on the hub ledger."""

    address: str
    balances: list[AssetBalance]
    claims: list[Claim]
    usd_balance: int
    """Signed USD balance (realized PnL, fees, funding), 18 decimals."""


def asset_meta(ctx: Context) -> dict[int, tuple[str, int]]:
    """asset id -> (symbol, decimals), read from the ledger."""
    ledger = ctx.ledger()
    hub = ctx.hub
    out = {}
    for asset_id in hub.call(ledger.functions.listedAssets()):
        symbol, decimals, *_ = hub.call(ledger.functions.assetInfo(asset_id))
        out[int(asset_id)] = (str(symbol), int(decimals))
    return out


def account_view(ctx: Context, address: str) -> AccountView:
    """Balances per asset, claims per (chain, token) of the deployment's tokens, USD balance."""
    address = parse_address(address)
    ledger = ctx.ledger()
    hub = ctx.hub
    balances = []
    for asset_id, (symbol, decimals) in sorted(asset_meta(ctx).items()):
        bal = int(hub.call(ledger.functions.balanceOf(address, asset_id)))
        balances.append(
            AssetBalance(
                asset_id=asset_id, symbol=symbol, decimals=decimals, balance=bal, amount=fmt_amount(bal, decimals)
            )
        )
    claims = []
    for chain_id, tokens in sorted(ctx.deployment.tokens.items()):
        for symbol, token in tokens.items():
            amount = int(hub.call(ledger.functions.claimOf(address, chain_id, token.address)))
            if amount:
                claims.append(
                    Claim(
                        chain_id=chain_id,
                        chain=ctx.chain_name(chain_id),
                        token=token.address,
                        symbol=symbol,
                        amount=amount,
                    )
                )
    usd = int(hub.call(ledger.functions.usdBalanceOf(address)))
    return AccountView(address=address, balances=balances, claims=claims, usd_balance=usd)


class ChainCollateral(BaseModel):
    """What an account could take out on one spoke, per asset: its balance capped by the spoke's liquidity."""

    chain_id: int
    chain: str
    withdrawable: dict[str, str]
    """asset symbol -> amount (human-readable, ledger units) withdrawable there now."""
    liquidity: dict[str, str]
    """asset symbol -> the spoke's liquidity for ledger balances (human-readable)."""


class CollateralView(BaseModel):
    """An account's collateral by asset and by chain."""

    address: str
    by_asset: dict[str, str]
    by_chain: list[ChainCollateral]


def collateral_view(ctx: Context, address: str) -> CollateralView:
    """Collateral by asset (fungible across chains) and what each spoke's lockbox can pay of it."""
    address = parse_address(address)
    account = account_view(ctx, address)
    ledger = ctx.ledger()
    hub = ctx.hub
    by_chain = []
    for chain_id in sorted(ctx.deployment.spokes):
        withdrawable, liquidity = {}, {}
        for bal in account.balances:
            token = hub.call(ledger.functions.tokenOf(chain_id, bal.asset_id))
            if int(token, 16) == 0:
                continue
            _, scale, _ = hub.call(ledger.functions.tokenInfo(chain_id, token))
            liq_ledger = int(hub.call(ledger.functions.liquidity(chain_id, bal.asset_id))) * int(scale)
            liquidity[bal.symbol] = fmt_amount(liq_ledger, bal.decimals)
            withdrawable[bal.symbol] = fmt_amount(min(bal.balance, liq_ledger), bal.decimals)
        by_chain.append(
            ChainCollateral(
                chain_id=chain_id, chain=ctx.chain_name(chain_id), withdrawable=withdrawable, liquidity=liquidity
            )
        )
    return CollateralView(
        address=account.address, by_asset={b.symbol: b.amount for b in account.balances}, by_chain=by_chain
    )


class AccountWithMargin(AccountView):
    """An account's balances plus its margin figures (None when no margin engine is deployed)."""

    margin: MarginView | None = None


def account_with_margin(ctx: Context, address: str) -> AccountWithMargin:
    """account_view plus margin_view (the figures the API's /accounts/{address} serves)."""
    view = account_view(ctx, address)
    margin = margin_view(ctx, view.address) if ctx.deployment.margin is not None else None
    return AccountWithMargin(
        address=view.address, balances=view.balances, claims=view.claims, usd_balance=view.usd_balance, margin=margin
    )
