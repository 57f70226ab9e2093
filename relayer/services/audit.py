"""Solvency audit (design.md invariants) from chain state only: lockboxes against the ledger's books.

Per (spoke, token), in token units:
  balance        what the lockbox really holds (ERC20 balanceOf / native balance)
  custodied      the lockbox's own books (received - released)
  liquidity      the ledger's figure for ledger balances of that asset on that spoke
  claims         the ledger's claims (unlisted / over-cap deposits) on that token
  deferred       deposits processed by the hub but queued by its inflow limit (owed, not yet in
                 any balance nor in liquidity)
  unreleased     withdrawals queued on the hub and not yet paid: not yet processed by the lockbox,
                 plus processed but parked (delayed or failed) releases, plus relay fees the
                 lockbox booked to relayers and they have not claimed yet
  uncredited     deposits the lockbox received that the ledger has not processed yet (information)
Invariants checked:
  I0  custodied <= balance                                    (the lockbox's books are really held)
  I1  balance >= unreleased                                   (withdrawals queued to it are covered)
  I2  liquidity <= balance                                    (the ledger never overstates a spoke)
  I3  liquidity + claims + deferred + unreleased <= balance   (everything the ledger owes is there)
  I4  per asset: sum of lockbox balances * scale >= sum of account balances + (unreleased + deferred) * scale
  I5  with the margin engine: sum of every account's USD balance == ledger.badDebt() (zero-sum
      PnL, fees and funding; what nobody could cover is written off and recorded)
The hub is read first, then each spoke: whatever the hub has credited was final on the spoke
before, so the later spoke read holds it. A spoke that processed withdrawals the hub snapshot had
not yet queued makes the snapshot inconsistent; the audit is then retried.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from relayer.chain.deferred import spoke_queues
from relayer.context import Context
from relayer.errors import SnapshotInconsistentError
from relayer.proofs.hashchain import WithdrawalMessage
from relayer.services.margin import UsdBooks, usd_books
from relayer.services.routes import first_block_above
from relayer.types import NATIVE_TOKEN, ChainId, RouteId, RouteKind

SNAPSHOT_ATTEMPTS = 3


class TokenAudit(BaseModel):
    """One (spoke, token) line of the audit, token units."""

    chain_id: int
    chain: str
    symbol: str
    token: str
    asset: str | None
    scale: int
    balance: int
    custodied: int
    liquidity: int
    claims: int
    deferred: int = 0
    unreleased: int
    uncredited: int


class Breach(BaseModel):
    """A violated invariant."""

    invariant: str
    where: str
    detail: str


class AuditReport(BaseModel):
    """The whole audit: lines, per-asset totals and breaches."""

    hub_block: int
    tokens: list[TokenAudit]
    assets: dict[str, dict[str, int]]
    """asset -> {lockbox_total, account_balances, unreleased, deferred} in ledger units."""
    breaches: list[Breach]
    usd: UsdBooks | None = None
    """The ledger's USD books at `hub_block` (None without a margin engine)."""

    @property
    def ok(self) -> bool:
        """No invariant is violated."""
        return not self.breaches


def _pending_amounts(ctx: Context, route: RouteId, after: int, upto: int, head: int) -> dict[str, int]:
    """token -> sum of amounts of route messages with nonce in (after, upto], scanned up to block `head`."""
    if upto <= after:
        return {}
    route_reader = ctx.route_reader(route)
    start = first_block_above(route_reader, after, head)
    out: dict[str, int] = {}
    for item in route_reader.scan_messages(start, head):
        if after < item.nonce <= upto:
            if isinstance(item.message, WithdrawalMessage) and item.message.is_recovery:
                continue  # moves no tokens: a redirect or refund of a release already parked
            token = item.message.token
            out[token] = out.get(token, 0) + int(item.message.amount)
    return out


def _snapshot(ctx: Context) -> AuditReport:
    """One attempt; SnapshotInconsistentError if a spoke ran ahead of the hub snapshot."""
    deployment = ctx.deployment
    hub_id = deployment.hub.chain_id
    hub = ctx.client(hub_id)
    ledger = ctx.ledger()
    hub_block = int(hub.block_number())
    asset_names = {v: k for k, v in deployment.assets.items()}
    hub_reads: dict[ChainId, dict[str, Any]] = {}
    for chain_id, tokens in deployment.tokens.items():
        if chain_id not in deployment.spokes:
            continue
        queued_nonce, _ = hub.call(ledger.functions.withdrawalRoute(chain_id), hub_block)
        credited_nonce, _ = hub.call(ledger.functions.depositRoute(chain_id), hub_block)
        per_token = {}
        deferred = {q.token.lower(): q.total for q in spoke_queues(hub, deployment, chain_id, hub_block)}
        for symbol, info in tokens.items():
            asset_id, scale, _ = hub.call(ledger.functions.tokenInfo(chain_id, info.address), hub_block)
            liquidity = hub.call(ledger.functions.liquidity(chain_id, asset_id), hub_block) if asset_id else 0
            claims = hub.call(ledger.functions.totalClaims(chain_id, info.address), hub_block)
            queued = deferred.get(info.address.lower(), 0)
            per_token[symbol] = (int(asset_id), int(scale) or 1, int(liquidity), int(claims), queued)
        hub_reads[chain_id] = {"queued": int(queued_nonce), "credited": int(credited_nonce), "tokens": per_token}

    lines: list[TokenAudit] = []
    for chain_id, reads in hub_reads.items():
        client = ctx.client(chain_id)
        lockbox = ctx.lockbox(chain_id)
        spoke_block = int(client.block_number())
        processed, _ = client.call(lockbox.functions.withdrawalRoute(), spoke_block)
        deposited, _ = client.call(lockbox.functions.depositRoute(), spoke_block)
        if int(processed) > reads["queued"]:
            raise SnapshotInconsistentError(f"chain {chain_id} processed withdrawal {processed} past the hub snapshot")
        withdrawal = RouteId(kind=RouteKind.WITHDRAWAL, source_chain_id=hub_id, dest_chain_id=chain_id)
        deposit = RouteId(kind=RouteKind.DEPOSIT, source_chain_id=chain_id, dest_chain_id=hub_id)
        not_processed = _pending_amounts(ctx, withdrawal, int(processed), reads["queued"], hub_block)
        not_credited = _pending_amounts(ctx, deposit, reads["credited"], int(deposited), spoke_block)
        for symbol, (asset_id, scale, liquidity, claims, queued) in reads["tokens"].items():
            token = deployment.tokens[chain_id][symbol].address
            if token == NATIVE_TOKEN:
                balance = int(client.w3.eth.get_balance(lockbox.address, spoke_block))
            else:
                erc20 = ctx.erc20(chain_id, token)
                balance = int(client.call(erc20.functions.balanceOf(lockbox.address), spoke_block))
            parked = int(client.call(lockbox.functions.owed(token), spoke_block))
            # relay fees booked to relayers and not yet claimed stay in the lockbox, owed to them
            parked += int(client.call(lockbox.functions.relayFeesOwed(token), spoke_block))
            lines.append(
                TokenAudit(
                    chain_id=chain_id,
                    chain=client.name,
                    symbol=symbol,
                    token=token,
                    asset=asset_names.get(asset_id),
                    scale=scale,
                    balance=balance,
                    custodied=int(client.call(lockbox.functions.custodied(token), spoke_block)),
                    liquidity=liquidity,
                    claims=claims,
                    deferred=queued,
                    unreleased=not_processed.get(token, 0) + parked,
                    uncredited=not_credited.get(token, 0),
                )
            )
    return AuditReport(hub_block=hub_block, tokens=lines, assets=_asset_totals(ctx, lines), breaches=_breaches(lines))


def _asset_totals(ctx: Context, lines: list[TokenAudit]) -> dict[str, dict[str, int]]:
    """Per asset, in ledger units: lockbox totals, account balances (ledger's total), unreleased."""
    ledger = ctx.ledger()
    hub = ctx.client(ctx.deployment.hub.chain_id)
    out: dict[str, dict[str, int]] = {}
    for asset, asset_id in ctx.deployment.assets.items():
        _, _, _, _, total = hub.call(ledger.functions.assetInfo(asset_id))
        mine = [line for line in lines if line.asset == asset]
        out[asset] = {
            "lockbox_total": sum(line.balance * line.scale for line in mine),
            "account_balances": int(total),
            "unreleased": sum(line.unreleased * line.scale for line in mine),
            "deferred": sum(line.deferred * line.scale for line in mine),
        }
    return out


def _breaches(lines: list[TokenAudit]) -> list[Breach]:
    """I0-I3 per line (I4 follows from them per asset and is reported by `audit` separately)."""
    out = []
    for line in lines:
        where = f"{line.symbol} on {line.chain}"
        if line.custodied > line.balance:
            out.append(
                Breach(
                    invariant="I0",
                    where=where,
                    detail=f"lockbox books {line.custodied} > lockbox balance {line.balance}",
                )
            )
        if line.balance < line.unreleased:
            out.append(
                Breach(
                    invariant="I1",
                    where=where,
                    detail=f"lockbox holds {line.balance} < unreleased withdrawals {line.unreleased}",
                )
            )
        if line.liquidity > line.balance:
            out.append(
                Breach(
                    invariant="I2",
                    where=where,
                    detail=f"ledger liquidity {line.liquidity} > lockbox balance {line.balance}",
                )
            )
        owed = line.liquidity + line.claims + line.deferred + line.unreleased
        if owed > line.balance:
            out.append(
                Breach(
                    invariant="I3",
                    where=where,
                    detail=f"liquidity + claims + deferred + unreleased = {owed} > lockbox balance {line.balance}",
                )
            )
    return out


def audit(ctx: Context) -> AuditReport:
    """The solvency audit, retried when the chains moved between reads; I4 checked per asset."""
    last: SnapshotInconsistentError | None = None
    for _ in range(SNAPSHOT_ATTEMPTS):
        try:
            report = _snapshot(ctx)
        except SnapshotInconsistentError as err:
            last = err
            continue
        for asset, totals in report.assets.items():
            owed = totals["account_balances"] + totals["unreleased"] + totals["deferred"]
            if totals["lockbox_total"] < owed:
                report.breaches.append(
                    Breach(
                        invariant="I4",
                        where=asset,
                        detail=f"lockboxes hold {totals['lockbox_total']} < balances + unreleased + deferred {owed}",
                    )
                )
        if ctx.deployment.margin is not None:
            report.usd = usd_books(ctx, block=report.hub_block)
            if not report.usd.balanced:
                report.breaches.append(
                    Breach(
                        invariant="I5",
                        where="USD balances",
                        detail=f"sum of USD balances {report.usd.sum_usd} != bad debt {report.usd.bad_debt}",
                    )
                )
        return report
    assert last is not None
    raise last
