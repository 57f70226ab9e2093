"""API v1: `/v1/...` routes. Every error is JSON `{"error": {"code", "message"}}` with a stable code;
malformed input is a 4xx that says what is wrong. HTTP only: the figures come from relayer.services."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from relayer.api.schemas import AccountWithMargin, AuditReport, CollateralView, PriceView, RouteStatus, TokenFees
from relayer.api.v1_actions import add_actions, add_transactions
from relayer.api.v1_errors import ApiError, ErrorReply, address as checked_address, call, error_response, require_margin
from relayer.context import Context
from relayer.errors import XmarginError
from relayer.services import accounts, actions, audit, explorer, fees, margin, routes, vault
from relayer.services.actions import DemoAccount
from relayer.services.explorer import LookupResult, PendingView, RouteHistory, ValidatorSignature
from relayer.services.vault import VaultShares, VaultView

__all__ = ["ApiError", "error_response", "v1_router"]

EVENT_POLL_S = 1.0


class DeploymentView(BaseModel):
    """Chains, tokens, assets and markets of the deployment (what the web app and SDK offer)."""

    hub: str
    spokes: list[str]
    tokens: dict[str, list[str]]
    """spoke name -> token symbols."""
    assets: list[str]
    markets: list[str]


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorReply, "description": "Malformed input"},
    404: {"model": ErrorReply, "description": "Not found"},
    422: {"model": ErrorReply, "description": "Refused"},
    503: {"model": ErrorReply, "description": "A chain or Redis did not answer"},
}


def v1_router(ctx: Context) -> APIRouter:
    """Every /v1 route over one Context."""
    api = APIRouter(prefix="/v1", responses=ERRORS)

    @api.get("/routes", response_model=list[RouteStatus], tags=["routes"])
    def route_statuses() -> list[RouteStatus]:
        """Every route's source, attested and processed nonce and lag."""
        return routes.route_statuses(ctx)

    @api.get("/routes/history", response_model=RouteHistory, tags=["routes"])
    def route_history(
        route: str = Query(description="Route id, e.g. deposit:31338->31337"),
        offset: int = Query(0, ge=0), limit: int = Query(20, ge=1, le=explorer.MAX_PAGE),
    ) -> RouteHistory:
        """A route's messages, newest first, paginated, each with where it stands."""
        return call(explorer.route_history, ctx, route, offset, limit)

    @api.get("/validators/signatures", response_model=list[ValidatorSignature], tags=["routes"])
    def validator_signatures() -> list[ValidatorSignature]:
        """Per route and validator, the last checkpoint nonce it signed."""
        return explorer.validator_signatures(ctx)

    @api.get("/audit", response_model=AuditReport, tags=["operator"])
    def solvency_audit() -> AuditReport:
        """Solvency audit: per (spoke, token) and per asset, with any invariant breach."""
        return audit.audit(ctx)

    @api.get("/fees", response_model=list[TokenFees], tags=["routes"])
    def token_fees() -> list[TokenFees]:
        """Per spoke token: minimum deposit, minimum withdrawal (ledger units) and relay fee."""
        return fees.fee_table(ctx)

    @api.get("/deployment", response_model=DeploymentView, tags=["operator"])
    def deployment() -> DeploymentView:
        """Chains, tokens, assets and markets."""
        dep = ctx.deployment
        return DeploymentView(
            hub=ctx.chain_name(dep.hub.chain_id),
            spokes=[ctx.chain_name(c) for c in sorted(dep.spokes)],
            tokens={ctx.chain_name(c): sorted(t) for c, t in sorted(dep.tokens.items()) if c in dep.spokes},
            assets=sorted(dep.assets),
            markets=sorted(dep.margin.markets) if dep.margin else [],
        )

    @api.get("/prices", response_model=list[PriceView], tags=["margin"])
    def prices() -> list[PriceView]:
        """Every oracle feed's price, time and status."""
        require_margin(ctx)
        return margin.prices_view(ctx)

    @api.get("/vault", response_model=VaultView, tags=["vault"])
    def vault_state(
        owner: str | None = Query(None, description="Also this LP's shares and queued redemptions"),
    ) -> VaultView:
        """The LP vault: equity, share price, total shares, traders' open PnL, the max-PnL factor and
        whether auto-deleveraging may run."""
        who = checked_address(owner) if owner else None
        require_margin(ctx)
        return call(vault.vault_view, ctx, who)

    @api.get("/vault/{owner}", response_model=VaultShares, tags=["vault"])
    def vault_shares(owner: str) -> VaultShares:
        """One LP's shares, their value now, its hub USDC and its queued redemptions (with ready time)."""
        who = checked_address(owner)
        require_margin(ctx)
        view = call(vault.vault_view, ctx, who)
        assert view.owner is not None
        return view.owner

    @api.get("/accounts/{address}", response_model=AccountWithMargin, tags=["accounts"])
    def account(address: str) -> AccountWithMargin:
        """Balances per asset, claims, USD balance and margin (positions, equity, IM, MM, health)."""
        return accounts.account_with_margin(ctx, checked_address(address))

    @api.get("/accounts/{address}/collateral", response_model=CollateralView, tags=["accounts"])
    def collateral(address: str) -> CollateralView:
        """Collateral by asset and, per spoke, what can be withdrawn there."""
        return accounts.collateral_view(ctx, checked_address(address))

    @api.get("/accounts/{address}/pending", response_model=PendingView, tags=["accounts"])
    def pending(address: str) -> PendingView:
        """Deposits seen on a spoke and not yet credited (nonce, confirmations left), and recent
        withdrawals: queued, signed, released or parked."""
        return explorer.pending(ctx, checked_address(address))

    @api.get("/explorer", response_model=LookupResult, tags=["explorer"])
    def lookup(
        q: str = Query(description="An account address, a transaction hash, or a nonce (with route)"),
        route: str | None = Query(None, description="Route id, when q is a nonce"),
    ) -> LookupResult:
        """Any deposit or withdrawal and where it stands and why; a reverted transaction and its reason."""
        return call(explorer.lookup, ctx, q, route)

    @api.get("/demo-accounts", response_model=list[DemoAccount], tags=["actions"])
    def demo_accounts() -> list[DemoAccount]:
        """The devnet accounts the page may act for (empty outside the devnet)."""
        return actions.demo_accounts(ctx)

    add_actions(api, ctx)
    add_transactions(api, ctx)

    @api.get("/events", tags=["events"], response_class=StreamingResponse,
             responses={200: {"content": {"text/event-stream": {}}, "description": "Server-sent events"}})
    async def events(
        request: Request,
        account: str | None = Query(None, description="Also stream this account's updates"),
        limit: int | None = Query(None, ge=1, description="Close the stream after this many events"),
    ) -> StreamingResponse:
        """Server-sent events: `routes` (list of RouteStatus) whenever a route moves, and with
        `account`: `account` (AccountWithMargin) and `pending` (PendingView) whenever they change."""
        address = checked_address(account) if account else None
        return StreamingResponse(_stream(ctx, request, address, limit), media_type="text/event-stream")

    return api


def _snapshots(ctx: Context, address: str | None) -> dict[str, Any]:
    """The current value of every stream, as JSON-ready data."""
    out: dict[str, Any] = {"routes": [s.model_dump() for s in routes.route_statuses(ctx)]}
    if address:
        out["account"] = accounts.account_with_margin(ctx, address).model_dump()
        out["pending"] = explorer.pending(ctx, address).model_dump()
    return out


async def _stream(ctx: Context, request: Request, address: str | None, limit: int | None) -> AsyncIterator[str]:
    """SSE frames: each stream's value when it first appears and whenever it changes."""
    last: dict[str, str] = {}
    sent = 0
    while not await request.is_disconnected():
        try:
            snapshot = await run_in_threadpool(_snapshots, ctx, address)
        except XmarginError as err:  # a chain or Redis hiccup is reported in the stream, which goes on
            yield f"event: error\ndata: {json.dumps({'code': 'unavailable', 'message': str(err)})}\n\n"
            snapshot = {}
        for name, value in snapshot.items():
            text = json.dumps(value, sort_keys=True)
            if last.get(name) != text:
                last[name] = text
                yield f"event: {name}\ndata: {text}\n\n"
                sent += 1
                if limit is not None and sent >= limit:
                    return
        yield ": keep-alive\n\n"
        await asyncio.sleep(EVENT_POLL_S)
