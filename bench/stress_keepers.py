"""Keepers as they are on a real chain (pure): they see an account N blocks after it became
liquidatable, pay real gas, share a block gas limit, and compete for the same accounts.

`plan` decides, for one block, which keeper sends which liquidation; the bench sends them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

GAS_GWEI: dict[str, float] = {
    # Approximate L1 gas price on the crash day, gwei: orders of magnitude recalled from public gas
    # trackers, NOT measured data (none is in shared/data); docs/margin.md says so. Squeezes reuse them.
    "2020-03-12": 60.0,
    "2021-05-19": 150.0,
    "2022-06-13": 60.0,
    "2022-11-08": 30.0,
    "2024-08-05": 15.0,
}
DEFAULT_GAS_GWEI = 60.0
BLOCK_GAS_LIMIT = 30_000_000
"""Ethereum's block gas limit for all five events (EIP-1559 target 15M)."""
LIQUIDATION_GAS_USED = 723_000
"""Gas of one liquidation (partial -> full, collateral sale, insurance): the contract tests' average
(docs/margin.md gas table); the bench also reports the median it measures."""
LIQUIDATION_SHARE_OF_BLOCK = 0.25
"""Share of each block the liquidations win against everything else sent in a crash."""


def gas_usd(gas_gwei: float, eth_usd: float, gas_used: int = LIQUIDATION_GAS_USED) -> float:
    """Cost of one liquidation in USD."""
    return gas_used * gas_gwei * 1e-9 * eth_usd


@dataclass(frozen=True)
class Candidate:
    """A liquidatable account as a keeper sees it: its expected reward in USD and when it was seen."""

    account: str
    reward_usd: float
    seen_block: int


@dataclass
class KeeperState:
    """One keeper: latency in blocks and its USD balance on the hub ledger."""

    name: str
    latency_blocks: int
    balance_usd: float
    spent_gas_usd: float = 0.0
    earned_usd: float = 0.0
    sent: int = 0


@dataclass
class Plan:
    """Liquidations to send in one block: (keeper index, account) in inclusion order."""

    sends: list[tuple[int, str]] = field(default_factory=list)
    unprofitable: int = 0
    out_of_gas: int = 0


def plan(block: int, candidates: list[Candidate], keepers: list[KeeperState], gas_cost_usd: float,
         block_gas_limit: int = BLOCK_GAS_LIMIT, share: float = LIQUIDATION_SHARE_OF_BLOCK,
         gas_used: int = LIQUIDATION_GAS_USED) -> Plan:
    """Every keeper whose latency has passed wants every account whose reward pays its gas; the
    block fits `share x limit / gas_used` liquidations; an account goes to the keeper that saw it
    first (the lowest latency; ties rotate with the block number), the others' sends revert."""
    out = Plan()
    capacity = int(block_gas_limit * share) // gas_used
    ready: list[tuple[int, int, str]] = []
    for c in candidates:
        if c.reward_usd < gas_cost_usd:
            out.unprofitable += 1
            continue
        able = [i for i, k in enumerate(keepers) if block - c.seen_block >= k.latency_blocks]
        if not able:
            continue
        able.sort(key=lambda i: (keepers[i].latency_blocks, (i + block) % len(keepers)))
        ready.append((c.seen_block, able[0], c.account))
    ready.sort()
    for _, k, account in ready:
        if len(out.sends) >= capacity:
            out.out_of_gas += 1
            continue
        out.sends.append((k, account))
    return out
