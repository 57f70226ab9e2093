"""Minimums and relay fees per (spoke, token) (issue 9), as `xmargin fees` and GET /v1/fees show
them: what a deposit must at least be, what a withdrawal must at least be, and what its delivery
costs the recipient."""

from __future__ import annotations

from pydantic import BaseModel

from relayer.context import Context

BPS = 10_000


class TokenFees(BaseModel):
    """One spoke token's minimums and relay fee, in its own token units unless said otherwise."""

    chain_id: int
    chain: str
    symbol: str
    token: str
    asset: str | None
    min_deposit: int
    """Smallest deposit the lockbox accepts (0: none)."""
    min_withdrawal: int
    """Smallest withdrawal to this spoke the hub accepts, in LEDGER units of the asset (0: none)."""
    relay_fee: int
    """Taken from each withdrawal released here and paid to the relayer that delivered it."""
    max_relay_fee_bps: int
    """The fee never takes more than this share of a withdrawal (basis points)."""


def relay_fee_for(amount: int, fee: int, max_bps: int) -> int:
    """What a withdrawal of `amount` token units pays: min(fee, amount * max_bps / 10_000), rounded down."""
    return min(fee, amount * max_bps // BPS)


def fee_table(ctx: Context) -> list[TokenFees]:
    """Every spoke token of the deployment with its minimums and relay fee (chain reads)."""
    deployment = ctx.deployment
    ledger = ctx.ledger()
    hub = ctx.hub
    names = {v: k for k, v in deployment.assets.items()}
    out: list[TokenFees] = []
    for chain_id, tokens in deployment.tokens.items():
        if chain_id not in deployment.spokes:
            continue
        client = ctx.client(chain_id)
        lockbox = ctx.lockbox(chain_id)
        max_bps = int(client.call(lockbox.functions.MAX_RELAY_FEE_BPS()))
        for symbol, info in tokens.items():
            asset_id, _, _ = hub.call(ledger.functions.tokenInfo(chain_id, info.address))
            minimum = int(hub.call(ledger.functions.minWithdrawal(chain_id, asset_id))) if asset_id else 0
            min_deposit, relay_fee = client.call(lockbox.functions.tokenFees(info.address))
            out.append(
                TokenFees(
                    chain_id=chain_id,
                    chain=client.name,
                    symbol=symbol,
                    token=info.address,
                    asset=names.get(int(asset_id)),
                    min_deposit=int(min_deposit),
                    min_withdrawal=minimum,
                    relay_fee=int(relay_fee),
                    max_relay_fee_bps=max_bps,
                )
            )
    return out
