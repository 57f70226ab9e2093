"""Route state and lag (what `xmargin status`, the API's /routes and /metrics report) and the
reachability of every chain."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Protocol

from pydantic import BaseModel
from web3 import Web3

from relayer.chain.deferred import DeferredQueue, spoke_queues
from relayer.chain.routes import RouteReader
from relayer.context import Context
from relayer.errors import ChainCallError, ChainError, StoreUnavailableError
from relayer.types import RouteId, RouteKind


class SignatureSource(Protocol):
    """What route status needs from the signature store (relayer.store's Store satisfies it)."""

    def signed_nonces(self, route: RouteId) -> list[int]: ...

    def signatures_for(self, route: RouteId, nonce: int) -> Mapping[bytes, Mapping[str, bytes]]: ...


class RouteStatus(BaseModel):
    """One route: how far its source went, what validators attested, what the destination applied."""

    route: str
    kind: str
    source_chain: str
    dest_chain: str
    source_nonce: int
    """Messages appended by the source contract (at the latest block)."""
    attested_nonce: int | None
    """Highest checkpoint nonce with a quorum of signatures on one head in the store (None: Redis is down)."""
    processed_nonce: int
    """Messages applied by the destination contract."""
    pending: int
    """source_nonce - processed_nonce."""
    lag_blocks: int
    """Source blocks since the oldest unprocessed message (0 when caught up)."""
    lag_seconds: float
    """Seconds since the oldest unprocessed message's block (0 when caught up)."""
    caught_up: bool
    halted_by: dict[str, str] = {}
    """Validators that reported this route halted (a reorg past what they signed), with the reason."""
    deferred: dict[str, DeferredQueue] = {}
    """Deposit routes: asset -> the hub's queue of deposits over the inflow limit (non-empty ones)."""
    deposits_paused: bool = False
    """Deposit routes: the guardian paused crediting this spoke's deposits."""


def source_nonce_at(route_reader: RouteReader, block: int) -> int:
    """The source contract's route nonce at `block`; 0 before the contract existed."""
    try:
        return route_reader.source_state(block).nonce
    except ChainCallError:
        address = Web3.to_checksum_address(route_reader.source_address)
        code = route_reader.source_client.w3.eth.get_code(address, block_identifier=block)
        if len(code) == 0:
            return 0
        raise


def first_block_above(route_reader: RouteReader, nonce: int, head: int) -> int:
    """Lowest block whose source nonce exceeds `nonce` (bisection on historical state, O(log head) calls)."""
    low, high = 0, head
    while low < high:
        mid = (low + high) // 2
        if source_nonce_at(route_reader, mid) > nonce:
            high = mid
        else:
            low = mid + 1
    return low


def attested_nonce(store: SignatureSource, route: RouteId, threshold: int) -> int:
    """Highest signed nonce where one head has at least `threshold` signatures (0 if none)."""
    for nonce in sorted(store.signed_nonces(route), reverse=True):
        if any(len(sigs) >= threshold for sigs in store.signatures_for(route, nonce).values()):
            return int(nonce)
    return 0


def _attested_or_none(ctx: Context, route: RouteId) -> int | None:
    """Attested nonce, or None when the store cannot be reached (the chains still answer for the rest)."""
    try:
        return attested_nonce(ctx.store, route, ctx.deployment.threshold)
    except StoreUnavailableError:
        return None


def _halted_by(ctx: Context, route: RouteId) -> dict[str, str]:
    """Halt reports of the route's validators ({} when the store cannot be reached)."""
    try:
        return ctx.store.halts(route)
    except StoreUnavailableError:
        return {}


def route_status(ctx: Context, route: RouteId, now: float | None = None) -> RouteStatus:
    """State and lag of one route."""
    route_reader = ctx.route_reader(route)
    source = route_reader.source_client
    head = int(source.block_number())
    source_nonce = route_reader.source_state(head).nonce
    processed = route_reader.dest_state().nonce
    lag_blocks, lag_seconds = 0, 0.0
    if source_nonce > processed:
        block = first_block_above(route_reader, processed, head)
        lag_blocks = head - block
        lag_seconds = max(0.0, (now or time.time()) - float(source.get_block(block)["timestamp"]))
    return RouteStatus(
        route=str(route),
        kind=route.kind.value,
        source_chain=ctx.chain_name(route.source_chain_id),
        dest_chain=ctx.chain_name(route.dest_chain_id),
        source_nonce=source_nonce,
        attested_nonce=_attested_or_none(ctx, route),
        processed_nonce=processed,
        pending=source_nonce - processed,
        lag_blocks=lag_blocks,
        lag_seconds=round(lag_seconds, 1),
        caught_up=source_nonce == processed,
        halted_by=_halted_by(ctx, route),
        **_deposit_limits(ctx, route),
    )


def _deposit_limits(ctx: Context, route: RouteId) -> dict[str, Any]:
    """A deposit route's pause flag and non-empty inflow queues on the hub ({} for withdrawals)."""
    if route.kind is not RouteKind.DEPOSIT:
        return {}
    hub = ctx.hub
    queues = spoke_queues(hub, ctx.deployment, route.source_chain_id, waiting_only=True)
    paused = bool(hub.call(ctx.ledger().functions.depositsPaused(route.source_chain_id)))
    return {"deferred": {q.asset: q for q in queues}, "deposits_paused": paused}


def route_statuses(ctx: Context) -> list[RouteStatus]:
    """Every route of the deployment (deposit and withdrawal per spoke)."""
    return [route_status(ctx, route) for route in ctx.deployment.routes()]


def health(ctx: Context) -> dict[str, Any]:
    """Reachability of every chain (latest block) and of Redis."""
    chains: dict[str, Any] = {}
    ok = True
    for chain_id, client in ctx.clients.items():
        try:
            chains[client.name] = {"chain_id": chain_id, "block": int(client.block_number()), "ok": True}
        except ChainError as err:  # reported, not raised: this is the health probe
            chains[client.name] = {"chain_id": chain_id, "ok": False, "error": type(err).__name__}
            ok = False
    return {"ok": ok, "chains": chains}
