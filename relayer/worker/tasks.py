"""Celery tasks: one validator tick or one submitter tick of one route, by route id; one keeper
round on the hub, by chain id.

Tasks take ids, never objects, and re-read every state they need from the chains (and the
validator's own db): running one twice, or after a crash, does nothing twice. They are periodic
ticks: beat sends the next one within a second, so a tick never retries itself (a retry with
backoff would only pile up behind the next ticks). A transient failure (an RPC or Redis outage, a
block that changed under a scan) is logged with its route and ends the tick; anything else fails
the task loudly.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from relayer.context import Context
from relayer.errors import (
    ConfigError,
    LockUnavailableError,
    RpcUnavailableError,
    SourceReorgedError,
    StoreUnavailableError,
    XmarginError,
)
from relayer.store.lease import lease
from relayer.types import RouteId
from relayer.worker.app import KEEP_TASK, SUBMIT_TASK, VALIDATE_TASK, app, current_settings
from relayer.worker.kick import SubmitKicker

log = logging.getLogger(__name__)

TRANSIENT = (RpcUnavailableError, StoreUnavailableError, SourceReorgedError)
"""Errors the next tick is expected to get past: the node or Redis was away, or the chain moved under a scan."""
TICK = {"acks_late": True, "reject_on_worker_lost": True, "max_retries": 0}
"""Options of every periodic tick: redelivered if its worker dies mid-tick, never retried by itself."""
VALIDATE_LEASE_TTL_S = 15.0
"""Lease of a (validator, route) tick: renewed while it runs, freed this fast if its worker dies."""
KEEP_LEASE_TTL_S = 15.0
"""Lease of one keeper's round: a worker's threads never run two rounds of the same key at once."""

_context_lock = threading.Lock()
_context: Context | None = None


def context() -> Context:
    """This process's Context (built on first use, so a forked pool child builds its own)."""
    global _context
    with _context_lock:
        settings = current_settings()
        if _context is None or _context.settings is not settings:
            _context = Context(settings)
            _context.on_quorum = SubmitKicker(settings)  # validators writing into Redis kick the submitter
        return _context


def _transient(task: str, err: XmarginError, **fields: Any) -> dict[str, Any]:
    """Log a transient failure of a tick (the next tick tries again) and report it as the result."""
    log.warning("%s: %s (the next tick retries)", task, err, extra=fields)
    return {**{k: str(v) for k, v in fields.items()}, "skipped": "transient", "error": str(err)}


@app.task(name=VALIDATE_TASK, **TICK)
def validate_route(route_id: str) -> dict[str, Any]:
    """One tick of this worker's validator on `route_id`; skipped if a tick of it is still running."""
    route = RouteId.parse(route_id)
    ctx = context()
    validator = ctx.validator()
    try:
        with lease(ctx.store, f"validate:{validator.address}:{route}", ttl_s=VALIDATE_LEASE_TTL_S):
            return validator.tick(route).model_dump(mode="json")
    except LockUnavailableError:
        return {"route": route_id, "validator": validator.name, "skipped": "busy"}
    except TRANSIENT as err:
        return _transient("validate", err, route=route_id, chain=route.source_chain_id, validator=validator.name)


@app.task(name=SUBMIT_TASK, **TICK)
def submit_route(route_id: str, kicked_at: int | None = None) -> dict[str, Any]:
    """One submitter tick on `route_id` (the submitter holds the route's lock itself): from beat,
    or kicked (`kicked_at`: the nonce whose quorum just completed, relayer.worker.kick), which
    returns at once if a tick of the route is running (that one picks the checkpoint up)."""
    route = RouteId.parse(route_id)
    try:
        return context().submitter().tick(route, kicked=kicked_at is not None).model_dump(mode="json")
    except TRANSIENT as err:
        return _transient("submit", err, route=route_id, chain=route.dest_chain_id)


@app.task(name=KEEP_TASK, **TICK)
def keep_accounts(hub_chain_id: int) -> dict[str, Any]:
    """One keeper round on the hub: follow accounts, one lens call, liquidate every unhealthy one.
    Competing keepers are expected (benign reverts are skipped); a round of this keeper still
    running makes this one a no-op. Non-benign failures are logged and reported in the result."""
    ctx = context()
    deployment = ctx.deployment
    if hub_chain_id != deployment.hub.chain_id:
        raise ConfigError([("hub", f"keep_accounts for chain {hub_chain_id}, but the hub is {deployment.hub.chain_id}")])
    keeper = ctx.keeper()
    fields = {"chain": hub_chain_id, "sender": keeper.sender}
    try:
        with lease(ctx.store, f"keep:{hub_chain_id}:{keeper.sender}", ttl_s=KEEP_LEASE_TTL_S):
            result = keeper.run_once(strict=False)
    except LockUnavailableError:
        return {"hub": hub_chain_id, "keeper": keeper.sender, "skipped": "busy"}
    except TRANSIENT as err:
        return _transient("keep", err, **fields)
    if result.sent or result.skipped_benign or result.failed:
        log.info(
            "keeper %s: %d accounts, %d unhealthy, liquidated %s, %d skipped (benign), %d reverted on chain, "
            "%d lost (nonce re-synced), %d at most in flight",
            keeper.sender, result.checked, result.unhealthy, result.liquidated, result.skipped_benign, result.reverted,
            len(result.lost), result.peak_in_flight, extra=fields,
        )
    if result.adl_needed or result.deleveraged:
        log.warning("keeper %s: the LP vault needs deleveraging; deleveraged %s", keeper.sender, result.deleveraged,
                    extra=fields)
    if result.feeds_latched:
        log.error("keeper %s: feeds %s LATCHED Invalid (a move beyond maxMoveBps): governance must resolveFeed",
                  keeper.sender, result.feeds_latched, extra=fields)
    for account, reason in result.failed.items():
        log.error("keeper %s: liquidation of %s refused: %s", keeper.sender, account, reason,
                  extra={**fields, "account": account})
    try:
        ctx.store.record_keeper_round(keeper.sender, result.unhealthy, len(result.liquidated), len(result.deleveraged),
                                      len(result.feeds_latched))
    except StoreUnavailableError as err:  # the round itself is done: only its metrics are lost
        log.warning("keeper %s: round figures not recorded: %s", keeper.sender, err, extra=fields)
    return {"hub": hub_chain_id, "keeper": keeper.sender, **result.model_dump(mode="json")}
