"""The pure statistics of bench/latency.py: percentiles, summaries, the protocol floor, batch
lookup. No I/O: unit-tested in tests/unit/test_bench_latency.py."""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

PERCENTILES = (50, 90, 99)

# ----------------------------------------------------------------------------- pure maths


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} outside 0..100")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Summary:
    """Distribution of one latency figure."""

    n: int
    mean: float
    p50: float
    p90: float
    p99: float
    max: float


def summarize(values: Sequence[float]) -> Summary:
    """n, mean, p50, p90, p99 and max of some values (rounded to milliseconds)."""
    if not values:
        raise ValueError("summary of no values")
    p50, p90, p99 = (round(percentile(values, q), 3) for q in PERCENTILES)
    return Summary(n=len(values), mean=round(sum(values) / len(values), 3), p50=p50, p90=p90, p99=p99,
                   max=round(max(values), 3))


@dataclass(frozen=True)
class Floor:
    """The protocol floor of one route: the source block must be `confirmations` deep before
    validators sign it, then the destination includes the batch in its next block."""

    seconds: float
    blocks: float
    """In destination block times."""


def protocol_floor(confirmations: int, source_block_time: float, dest_block_time: float) -> Floor:
    """confirmations x source block time + one destination block."""
    if source_block_time <= 0 or dest_block_time <= 0 or confirmations < 0:
        raise ValueError("block times must be positive and confirmations non-negative")
    seconds = confirmations * source_block_time + dest_block_time
    return Floor(seconds=seconds, blocks=seconds / dest_block_time)


def times_floor(summary: Summary, floor: float) -> dict[str, float]:
    """p50, p90, p99 and max as multiples of the floor (same unit)."""
    return {k: round(getattr(summary, k) / floor, 2) for k in ("p50", "p90", "p99", "max")}


def crediting_batch(nonce: int, last_nonces: Sequence[int]) -> int:
    """Index of the first processed batch (ascending last nonces) that includes message `nonce`."""
    index = bisect.bisect_left(last_nonces, nonce)
    if index == len(last_nonces):
        raise LookupError(f"no processed batch includes nonce {nonce}")
    return index


def last_block_at_or_before(timestamp: int, low: int, high: int, timestamp_of: Callable[[int], int]) -> int:
    """Highest block in [low, high] whose timestamp <= `timestamp` (`low` if none is); timestamps ascend."""
    while low < high:
        mid = (low + high + 1) // 2
        if timestamp_of(mid) <= timestamp:
            low = mid
        else:
            high = mid - 1
    return low


@dataclass(frozen=True)
class Batches:
    """The destination batches that carried one phase's messages."""

    count: int
    mean_size: float
    sizes: list[int]
    gas_total: int
    gas_per_message: float


def batch_figures(sizes: Sequence[int], gas_used: Sequence[int], messages: int) -> Batches:
    """Number and mean size of batches, and destination gas per relayed message."""
    if len(sizes) != len(gas_used) or not sizes or messages <= 0:
        raise ValueError("need one gas figure per batch, at least one batch and one message")
    total = sum(gas_used)
    return Batches(count=len(sizes), mean_size=round(sum(sizes) / len(sizes), 2), sizes=list(sizes),
                   gas_total=total, gas_per_message=round(total / messages, 1))


def rate(count: int, seconds: float) -> float:
    """Messages per second (0 for an empty span)."""
    return round(count / seconds, 2) if seconds > 0 else 0.0


