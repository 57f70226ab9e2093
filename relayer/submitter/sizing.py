"""Batch sizing by gas: how many messages one batch may carry on a destination chain.

Validators promise a checkpoint at every block end that holds messages and at every multiple of
MAX_BATCH, so from any processed nonce a signed checkpoint is at most MAX_BATCH away; a submitter
that fell behind finds many checkpoints above it and may deliver the highest one the destination
block can take in one transaction. The limit is gas, not a count: the block gas limit times the
share one batch may use, less a batch's fixed cost, over the gas of one message (the measured
worst case of the route's kind, raised to what delivered batches actually cost per message).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from relayer.types import MAX_BATCH, RouteId, RouteKind

BATCH_BASE_GAS = 120_000
"""Fixed cost of one batch beyond its messages: 21k intrinsic, checkpoint, quorum signatures, the
validator set read and the route update (a batch of one deposit costs ~73k in all, bench/gas.py)."""
MESSAGE_GAS = {RouteKind.DEPOSIT: 30_000, RouteKind.WITHDRAWAL: 60_000}
"""Gas of one message at worst, measured: a hub deposit to a new balance 27,970 (an existing one
10,870); a spoke release is an ERC20 or native transfer to a recipient that may be new."""
MIN_SAMPLE = 10
"""Batches smaller than this say little about the per-message cost (the fixed part dominates)."""


class BatchSizer(BaseModel):
    """Messages per batch from a destination's block gas limit; learns per-message gas upward."""

    model_config = ConfigDict(frozen=False)

    block_gas_share: float
    """Share of a destination block one batch may fill (several routes share the hub's blocks)."""
    ceiling: int
    """Configured maximum messages per batch."""
    message_gas: dict[str, int] = {}
    """route -> highest gas per message seen in a delivered batch (at least the kind's worst case)."""

    def per_message(self, route: RouteId) -> int:
        """Gas one message of `route` is budgeted at."""
        return self.message_gas.get(str(route), MESSAGE_GAS[route.kind])

    def cap(self, route: RouteId, block_gas_limit: int) -> int:
        """Most messages one batch of `route` may carry under `block_gas_limit` (at least 1)."""
        budget = int(block_gas_limit * self.block_gas_share) - BATCH_BASE_GAS
        return max(1, min(self.ceiling, budget // self.per_message(route)))

    def gas_limit(self, route: RouteId, messages: int) -> int:
        """Gas limit of a batch that cannot be estimated (it follows one still in flight, so the
        destination has not reached its first nonce yet): its fixed cost plus the per-message
        budget, a worst case that delivered batches only ever raise."""
        return BATCH_BASE_GAS + messages * self.per_message(route)

    def observe(self, route: RouteId, gas_used: int, messages: int) -> None:
        """A delivered batch's receipt: raise the route's per-message figure if it cost more."""
        if messages < MIN_SAMPLE:
            return
        seen = -(-(gas_used - BATCH_BASE_GAS) // messages)
        if seen > self.per_message(route):
            self.message_gas[str(route)] = seen


def quorum_window(cap: int) -> int:
    """How far above the processed nonce to look for signed checkpoints: the cap, but never less
    than MAX_BATCH (the validators' spacing), so a small cap still finds the checkpoint it must
    fall back to."""
    return max(cap, MAX_BATCH)
