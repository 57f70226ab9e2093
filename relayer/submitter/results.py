"""What a submitter tick reports (`SubmitResult`), built from its in-flight window once every batch
is confirmed, and what the submitter keeps about one batch in flight (`Batch`)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from relayer.chain.sender import PendingTx
from relayer.errors import SubmitError
from relayer.submitter.window import Window
from relayer.types import RouteId


class SubmitResult(BaseModel):
    """What one submitter tick of one route did."""

    model_config = ConfigDict(frozen=True)

    route: str
    processed_nonce: int
    """Destination's processed nonce when the tick started (-1: not read, a kicked tick found the route busy)."""
    delivered: bool = False
    first_nonce: int | None = None
    last_nonce: int | None = None
    tx_hash: str | None = None
    gas_used: int | None = None
    batches: int = 0
    """Batches this tick delivered (several may be in flight at once)."""
    not_applied: int = 0
    """Batches this tick sent that reverted (delivered by someone else first, or behind one that failed)."""
    recoveries: int = 0
    """Times the tick resent from the destination's processed nonce after a batch did not apply."""
    reason: str
    """delivered | up-to-date | no-quorum | busy | delivered-by-other"""
    released: dict[str, str] = {}
    """Deposit routes: asset -> tx hash of a `releaseDeferred` this tick sent (queued deposits credited)."""


@dataclass
class Batch:
    """What the submitter keeps about one batch in flight."""

    pending: PendingTx
    size: int
    last_block: int
    """Source block of the batch's last message (a lower bound for the next fetch)."""
    simulated: bool
    tx_hash: str = ""
    gas_used: int = 0
    why: str = ""
    """Why it did not apply, when it did not."""
    simulated_failure: bool = False


def tick_result(route: RouteId, processed: int, window: Window[Batch], reason: str) -> SubmitResult:
    """What the tick did, from its window's confirmations. SubmitError if a simulated batch
    reverted on chain for a reason other than the route's nonce (something is wrong, not a race)."""
    failed = [b for b in window.failed if b.data.simulated_failure]
    if failed:
        item = failed[-1]
        raise SubmitError(f"route {route}: batch tx {item.data.tx_hash} reverted: {item.data.why}")
    delivered = window.delivered
    if delivered:
        return SubmitResult(
            route=str(route), processed_nonce=processed, delivered=True, first_nonce=delivered[0].first,
            last_nonce=delivered[-1].last, tx_hash=delivered[-1].data.tx_hash,
            gas_used=sum(b.data.gas_used for b in delivered), batches=len(delivered),
            not_applied=len(window.by_other) + len(window.failed), recoveries=window.recoveries,
            reason="delivered",
        )
    if window.by_other:
        other = window.by_other
        return SubmitResult(
            route=str(route), processed_nonce=processed, first_nonce=other[0].first, last_nonce=other[-1].last,
            tx_hash=other[-1].data.tx_hash, not_applied=len(other) + len(window.failed),
            recoveries=window.recoveries, reason="delivered-by-other",
        )
    return SubmitResult(route=str(route), processed_nonce=processed, not_applied=len(window.failed),
                        recoveries=window.recoveries, reason=reason)
