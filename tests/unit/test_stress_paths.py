"""bench/stress_paths.py: OHLC bridged into oracle steps, mirrored squeezes, the daily rally."""

from __future__ import annotations

import pytest

import bench_modules  # noqa: F401  (puts bench/ on sys.path)
from stress_paths import Bar, bridge, closes_only, largest_rally, max_step_move, mirror, mirror_bar, usdc_push_every

E = [Bar("h0", 100, 105, 90, 95), Bar("h1", 95, 96, 80, 82)]
B = [Bar("h0", 1000, 1010, 950, 990), Bar("h1", 990, 1000, 900, 910)]


def test_crash_bridge_visits_the_low_before_the_high() -> None:
    steps = bridge(E, B, "crash", 3600)
    assert [s.eth for s in steps[:4]] == [100, 90, 105, 95]
    assert [s.btc for s in steps[4:]] == [990, 900, 1000, 910]
    assert [s.seconds for s in steps] == [0, 900, 1800, 2700, 3600, 4500, 5400, 6300]


def test_squeeze_bridge_visits_the_high_first() -> None:
    steps = bridge(E, B, "squeeze", 3600)
    assert [s.eth for s in steps[:4]] == [100, 105, 90, 95]


def test_closes_only_is_one_step_per_bar() -> None:
    assert [(s.seconds, s.eth) for s in closes_only(E, B, 3600)] == [(3600, 95), (7200, 82)]


def test_mirror_turns_a_fall_into_an_equal_rise_about_the_first_open() -> None:
    m = mirror(E)
    assert m[1].close == pytest.approx(118)  # 100 x (2 - 82/100)
    assert (m[0].high, m[0].low) == (110, 95)  # high and low swap
    assert all(b.low <= min(b.open, b.close) and b.high >= max(b.open, b.close) for b in m)


def test_mirror_refuses_a_bar_above_twice_the_start() -> None:
    with pytest.raises(ValueError, match="2x"):
        mirror_bar(Bar("x", 100, 210, 100, 150), 100)


def test_bridge_refuses_misaligned_paths() -> None:
    with pytest.raises(ValueError, match="aligned"):
        bridge(E, B[:1], "crash", 3600)


def test_largest_rally_finds_the_steepest_window() -> None:
    flat = [Bar(f"d{i:02}", 10, 10, 10, 10) for i in range(10)]
    eth = flat[:5] + [Bar("d05", 10, 30, 10, 25)] + flat[6:]
    assert largest_rally(eth, flat, 3, "d00") in (3, 4, 5)
    assert largest_rally(eth, flat, 3, "d06") == 6


def test_max_step_move_sees_the_wick() -> None:
    assert max_step_move(bridge(E, B, "crash", 3600)) == pytest.approx(16 / 80)  # 80 -> 96 inside the second bar


def test_usdc_is_pushed_often_enough_never_to_go_stale() -> None:
    assert usdc_push_every(900, 7_200) == 4  # 15-minute steps: hourly
    assert usdc_push_every(3_600, 7_200) == 1  # hourly closes
    assert usdc_push_every(21_600, 7_200) == 1  # the rally's 6-hour steps
