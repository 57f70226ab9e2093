"""Validators' checkpoint signatures published through the API: checked to recover to a current
validator of the route's destination before they are stored."""

from __future__ import annotations

import time
from collections.abc import Callable

from eth_account import Account
from eth_account.messages import encode_defunct

from relayer.context import Context
from relayer.errors import InvalidRouteError, SignatureError, SignatureRejectedError
from relayer.proofs.checkpoint import Checkpoint, recover
from relayer.store.redis_store import MAX_HEADS_PER_VALIDATOR, KickHook
from relayer.types import RouteId, checksum
from relayer.validator.publish import MAX_REASON, halt_message

VALIDATOR_SET_TTL_S = 10.0
HALT_WINDOW_S = 300
"""A halt report is accepted up to this long after its stamp (validators report every tick)."""
HALT_FUTURE_S = 60
"""... and up to this far ahead of the API's clock (clock skew between operators)."""

ValidatorSetOf = Callable[[RouteId], set[str]]
"""A route's current validators (checksummed)."""


class ValidatorSets:
    """Current validator set of each route's destination, read on chain and cached briefly."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._cache: dict[str, tuple[float, set[str]]] = {}

    def of(self, route: RouteId) -> set[str]:
        """Checksummed addresses allowed to sign checkpoints of `route` at its destination."""
        key = str(route)
        hit = self._cache.get(key)
        if hit and time.monotonic() - hit[0] < VALIDATOR_SET_TTL_S:
            return hit[1]
        hub = route.dest_chain_id == self.ctx.deployment.hub.chain_id
        dest = self.ctx.ledger() if hub else self.ctx.lockbox(route.dest_chain_id)
        members = self.ctx.client(route.dest_chain_id).call(dest.functions.validatorsOf(route.source_chain_id))
        current = {checksum(m) for m in members}
        self._cache[key] = (time.monotonic(), current)
        return current


def accept_signature(
    ctx: Context,
    validator_set: ValidatorSetOf,
    route_text: str,
    nonce: int,
    head: bytes,
    validator: str,
    signature: bytes,
    on_quorum: KickHook | None = None,
) -> tuple[RouteId, str]:
    """Store a validator's signature of (route, nonce, head) once it recovers to `validator` and
    that address is a current validator; returns (route, signer). SignatureRejectedError with
    the HTTP status and a metric reason otherwise. The post that completes a quorum above what the
    route's submitter has sent calls `on_quorum` (a submitter tick starts at once)."""
    route = _route(ctx, route_text)
    checkpoint = Checkpoint(
        source_chain_id=route.source_chain_id, source=ctx.deployment.source_contract(route), nonce=nonce, head=head
    )
    try:
        signer = recover(checkpoint, route.dest_chain_id, ctx.deployment.dest_contract(route), signature)
    except SignatureError as err:
        raise SignatureRejectedError(400, "malformed", str(err)) from err
    if signer != validator:
        raise SignatureRejectedError(400, "wrong_signer", f"signature recovers to {signer}, not {validator}")
    if signer not in validator_set(route):
        raise SignatureRejectedError(403, "not_validator", f"{signer} is not in the validator set of {route}")
    stored, held, kick = ctx.store.publish_signature_within(route, nonce, head, signer, signature,
                                                            MAX_HEADS_PER_VALIDATOR)
    if kick and on_quorum is not None:
        on_quorum(route, nonce)
    if not stored:  # checked and written in one atomic step: concurrent posts cannot both pass
        raise SignatureRejectedError(
            409, "too_many_heads",
            f"{signer} already has {held} different heads for {route} nonce {nonce} "
            f"(at most {MAX_HEADS_PER_VALIDATOR} are kept)",
        )
    return route, signer


def _route(ctx: Context, route_text: str) -> RouteId:
    """A route of this deployment, or SignatureRejectedError 404."""
    try:
        route = RouteId.parse(route_text)
        if route not in ctx.deployment.routes():
            raise InvalidRouteError(route_text, "not a route of this deployment")
    except InvalidRouteError as err:
        raise SignatureRejectedError(404, "route", str(err)) from err
    return route


def accept_halt(
    ctx: Context, validator_set: ValidatorSetOf, route_text: str, validator: str, reason: str, issued_at_ms: int,
    signature: bytes, now: float | None = None,
) -> RouteId:
    """Record a validator's report that it halted a route, once its EIP-191 signature over
    `halt_message` recovers to `validator`, a current validator of the route, its stamp lies within
    [now - HALT_WINDOW_S, now + HALT_FUTURE_S] and above the last stamp recorded from it for the
    route. So a captured report cannot be replayed later (window) nor again (stamp) to show a
    resumed validator halted."""
    route = _route(ctx, route_text)
    if len(reason) > MAX_REASON:
        raise SignatureRejectedError(422, "malformed", f"reason longer than {MAX_REASON} characters")
    try:
        signer = checksum(Account.recover_message(
            encode_defunct(text=halt_message(str(route), validator, reason, issued_at_ms)), signature=signature
        ))
    except Exception as err:  # noqa: BLE001  eth_account raises several types for a malformed signature
        raise SignatureRejectedError(400, "malformed", f"unreadable halt signature: {type(err).__name__}") from err
    if signer != checksum(validator):
        raise SignatureRejectedError(400, "wrong_signer", f"halt report recovers to {signer}, not {validator}")
    if signer not in validator_set(route):
        raise SignatureRejectedError(403, "not_validator", f"{signer} is not in the validator set of {route}")
    now_ms = int((time.time() if now is None else now) * 1000)
    if not now_ms - HALT_WINDOW_S * 1000 <= issued_at_ms <= now_ms + HALT_FUTURE_S * 1000:
        raise SignatureRejectedError(
            400, "stale_report",
            f"halt report issued at {issued_at_ms} ms is {(now_ms - issued_at_ms) / 1000:.0f} s from this API's clock "
            f"(accepted: at most {HALT_WINDOW_S} s old, {HALT_FUTURE_S} s ahead)",
        )
    last = ctx.store.record_halt(route, signer, reason, issued_at_ms)
    if last is not None:
        raise SignatureRejectedError(
            409, "replayed",
            f"halt report replayed or out of order: issued_at_ms {issued_at_ms} is not above {last}, "
            f"the last accepted from {signer} for {route}",
        )
    return route
