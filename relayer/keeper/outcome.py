"""What one keeper pass did (relayer.keeper.liquidator.Keeper.run_once): the counts and lists its
callers, the worker's logs and the benchmarks read."""

from __future__ import annotations

from pydantic import BaseModel


class KeeperRound(BaseModel):
    """Outcome of one keeper pass."""

    checked: int = 0
    """Accounts checked through the lens."""
    unhealthy: int = 0
    """Accounts the lens reported liquidatable."""
    sent: list[str] = []
    """Transaction hashes of liquidations sent."""
    liquidated: list[str] = []
    """Accounts whose liquidation this keeper got mined successfully."""
    skipped_claimed: int = 0
    """Accounts another keeper was liquidating (its lease held): left to it."""
    skipped_benign: int = 0
    """Accounts a simulation showed already handled (competing keeper) or not liquidatable now."""
    reverted: int = 0
    """Sent liquidations (and syncs, deleverages) that reverted on chain without running out of gas."""
    reverted_by: dict[str, str] = {}
    """Account -> why its mined liquidation reverted, by replaying it after the receipt (e.g.
    LiquidationAccountHealthy: a competitor first, or prices moved back). Never retried blindly."""
    lost: list[str] = []
    """Accounts whose liquidation transaction was lost (its nonce taken, or unmined after every fee
    bump): the nonce was re-synced from the chain; the next round looks at the account again."""
    gas_used: int = 0
    """Gas used by this round's mined liquidation transactions."""
    peak_in_flight: int = 0
    """Most liquidation transactions in flight at once in this round."""
    out_of_gas: list[str] = []
    """Accounts whose sent liquidation ran out of gas (its own error: never "a competitor was first")."""
    failed: dict[str, str] = {}
    """Account -> custom error of a simulation that reverted for a reason that is not benign."""
    orders_settled: int = 0
    """Delayed orders this keeper settled (for the reward) in this pass."""
    orders_cancelled: int = 0
    """Expired orders this keeper cancelled (escrow back to the trader) in this pass."""
    adl_needed: bool = False
    """The LP vault needed auto-deleveraging at the start of this pass."""
    deleveraged: list[str] = []
    """`market:account` of every profitable position this keeper deleveraged in this pass."""
    feeds_synced: list[int] = []
    """Aggregator feeds whose anchor this keeper advanced (`syncFeed`) in this pass."""
    feeds_latched: list[int] = []
    """Aggregator feeds this pass's sync latched Invalid (a jump beyond `maxMoveBps`): governance must act."""
