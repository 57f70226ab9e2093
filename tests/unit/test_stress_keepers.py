"""bench/stress_keepers.py: latency, gas cost, block capacity and competition."""

from __future__ import annotations

import pytest

import bench_modules  # noqa: F401
from stress_keepers import Candidate, KeeperState, gas_usd, plan


def keepers() -> list[KeeperState]:
    return [KeeperState("fast", 1, 1e6), KeeperState("slow", 3, 1e6)]


def test_gas_cost_in_usd() -> None:
    assert gas_usd(100, 2_000, 500_000) == pytest.approx(100.0)
    assert gas_usd(100, 2_000) > 100  # the default gas is a full liquidation


def test_nobody_acts_before_the_latency() -> None:
    p = plan(10, [Candidate("a", 50, 10)], keepers(), gas_cost_usd=1)
    assert p.sends == []
    assert plan(11, [Candidate("a", 50, 10)], keepers(), 1).sends == [(0, "a")]


def test_unprofitable_liquidations_are_not_sent() -> None:
    p = plan(20, [Candidate("a", 5, 10), Candidate("b", 50, 10)], keepers(), gas_cost_usd=10)
    assert p.sends == [(0, "b")] and p.unprofitable == 1


def test_block_capacity_caps_liquidations_oldest_first() -> None:
    cands = [Candidate(f"a{i}", 100, 10 - i) for i in range(5)]
    p = plan(20, cands, keepers(), 1, block_gas_limit=1_000_000, share=1.0, gas_used=400_000)
    assert [a for _, a in p.sends] == ["a4", "a3"] and p.out_of_gas == 3


def test_slow_keeper_wins_only_what_the_fast_one_cannot_see() -> None:
    ks = [KeeperState("slow", 3, 1e6), KeeperState("fast", 1, 1e6)]
    assert plan(13, [Candidate("a", 50, 10)], ks, 1).sends == [(1, "a")]
