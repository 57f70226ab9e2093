"""bench/stress_liquidity.py: constant-product slippage and the keeper's break-even sale size."""

from __future__ import annotations

import pytest

import bench_modules  # noqa: F401
from stress_liquidity import TWO_PCT_SHARE, Market, Pool, proceeds, reserve_from_depth, slippage


def test_two_percent_depth_moves_the_price_two_percent() -> None:
    y = reserve_from_depth(1_000_000)
    v = 1_000_000
    # price after selling v: (y / (y + v))^2 of before
    assert (y / (y + v)) ** 2 == pytest.approx(0.98)
    assert pytest.approx(0.010152, rel=1e-4) == TWO_PCT_SHARE


def test_slippage_grows_with_size_and_with_the_backlog() -> None:
    y = 10_000_000
    assert slippage(y, 0, 100_000) < slippage(y, 0, 1_000_000) < slippage(y, 0, 5_000_000)
    assert slippage(y, 0, 1_000_000) == pytest.approx(1_000_000 / 11_000_000)
    assert slippage(y, 2_000_000, 1_000_000) > slippage(y, 0, 1_000_000)
    # selling in two pieces gets the same as selling at once (path independence of x*y=k)
    assert proceeds(y, 0, 300) + proceeds(y, 300, 700) == pytest.approx(proceeds(y, 0, 1000))


def test_the_sale_stops_where_slippage_and_gas_eat_the_bonus() -> None:
    pool = Pool(reserve_usd=10_000_000)
    v = pool.max_profitable_sale(discount=0.05, gas_usd=0, cap_usd=10**9)
    assert slippage(pool.reserve_usd, 0, v) == pytest.approx(0.05, abs=1e-6)
    assert pool.max_profitable_sale(0.05, 0, 1_000) == 1_000  # small sales always pay
    assert pool.max_profitable_sale(0.05, gas_usd=10**6, cap_usd=10**9) == 0  # gas above any profit
    assert pool.max_profitable_sale(0.0, 0, 1_000) == 0


def test_backlog_decays_with_the_half_life() -> None:
    pool = Pool(reserve_usd=1e7, half_life_steps=2)
    pool.sell(1_000)
    pool.decay(2)
    assert pool.backlog_usd == pytest.approx(500)


def test_event_depths_scale() -> None:
    a, b = Market.for_event("2022-06-13"), Market.for_event("squeeze-2022-06-13", depth_scale=2)
    assert b.pools["ETH"].reserve_usd == pytest.approx(2 * a.pools["ETH"].reserve_usd)
    assert Market.for_event("rally-2020-12").pools["BTC"].reserve_usd > 0
