"""Deposits the hub's inflow limit deferred (issue 9): what waits per (spoke, asset) and whether a
`releaseDeferred` would credit any of it now. Read by the submitter (which releases), `status`,
the API and the solvency audit (deferred deposits are liabilities not yet credited)."""

from __future__ import annotations

from pydantic import BaseModel
from web3.types import BlockIdentifier

from relayer.chain.client import ChainClient
from relayer.chain.contracts import inflow_limiter, ledger
from relayer.deployment import Deployment

UNLIMITED = 2**256 - 1
"""What `availableInflow` returns for a (spoke, asset) without a bucket."""


class DeferredQueue(BaseModel):
    """The inflow queue of one (spoke, asset) on the hub."""

    chain_id: int
    asset: str
    asset_id: int
    token: str
    """The spoke token backing the asset (amounts below are in its units)."""
    scale: int
    """Ledger units per token unit."""
    entries: int
    """Deposits (or the rest of one) waiting, in deposit order."""
    total: int
    """Token units waiting: owed to depositors, not yet in any balance."""
    capacity: int
    """Bucket capacity in ledger units (0: no limit)."""
    refill_per_second: int
    available: int
    """Ledger units the bucket would credit now (UNLIMITED without a limit)."""
    paused: bool
    """The guardian paused this spoke's deposits (nothing is credited, released or not)."""

    @property
    def releasable(self) -> bool:
        """A `releaseDeferred` now would credit at least one token unit."""
        return can_release(self.entries, self.available, self.scale, self.paused)


def can_release(entries: int, available: int, scale: int, paused: bool) -> bool:
    """Something is queued, the route is not paused and the bucket holds at least one token unit."""
    return entries > 0 and not paused and available >= scale


def spoke_queues(
    hub: ChainClient,
    deployment: Deployment,
    chain_id: int,
    block: BlockIdentifier = "latest",
    waiting_only: bool = False,
) -> list[DeferredQueue]:
    """The queue of every asset the deployment lists on spoke `chain_id`, read at hub `block`
    (`waiting_only`: only the non-empty ones, two calls per empty asset)."""
    book = ledger(hub, deployment.hub.ledger)
    limiter = inflow_limiter(hub, hub.call(book.functions.inflowLimiter(), block))
    paused = bool(hub.call(book.functions.depositsPaused(chain_id), block))
    out: list[DeferredQueue] = []
    for asset, asset_id in deployment.assets.items():
        token = hub.call(book.functions.tokenOf(chain_id, asset_id), block)
        if int(token, 16) == 0:
            continue
        entries, total, _ = hub.call(limiter.functions.deferredOf(chain_id, asset_id), block)
        if waiting_only and int(entries) == 0:
            continue
        _, scale, _ = hub.call(book.functions.tokenInfo(chain_id, token), block)
        capacity, refill = hub.call(limiter.functions.inflowLimitOf(chain_id, asset_id), block)
        available = hub.call(limiter.functions.availableInflow(chain_id, asset_id), block)
        out.append(
            DeferredQueue(
                chain_id=chain_id,
                asset=asset,
                asset_id=asset_id,
                token=token,
                scale=int(scale) or 1,
                entries=int(entries),
                total=int(total),
                capacity=int(capacity),
                refill_per_second=int(refill),
                available=int(available),
                paused=paused,
            )
        )
    return out
