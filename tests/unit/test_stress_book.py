"""bench/stress_book.py: the drawn book and trader reactions."""

from __future__ import annotations

import random

import bench_modules  # noqa: F401
from stress_book import BookParams, draw_book, draw_leverage, gross, skew, wants_to_act


def test_book_is_deterministic_in_the_seed_and_mixed() -> None:
    p = BookParams(accounts=400, max_leverage=10)
    a, b = draw_book(p, False, "s1"), draw_book(p, False, "s1")
    assert a == b and a != draw_book(p, False, "s2")
    assert {t.collateral for t in a} == {"USDC", "ETH", "BTC"}
    assert {t.spoke for t in a} == {101, 102}
    assert all(1 <= t.open_day <= p.days_before for t in a)
    assert {t.reaction for t in a} == {"none", "add_margin", "close"}


def test_leverage_has_a_fat_tail_capped_at_the_max() -> None:
    rng = random.Random(1)
    levs = [draw_leverage(rng, 10, 1.5) for _ in range(5_000)]
    assert min(levs) >= 1 and max(levs) == 10
    at_max = sum(x == 10 for x in levs) / len(levs)
    median = sorted(levs)[len(levs) // 2]
    assert 0.02 < at_max < 0.15 and median < 4


def test_crash_books_lean_long_and_squeeze_books_short() -> None:
    p = BookParams(accounts=600, max_leverage=5)
    crash, squeeze = draw_book(p, False, "x"), draw_book(p, True, "x")
    assert skew(crash)["ETH"] > 0 and skew(squeeze)["ETH"] < 0
    assert gross(crash) > 0


def test_reactions_fire_once_between_maintenance_and_their_trigger() -> None:
    p = BookParams(accounts=50, max_leverage=5)
    book = draw_book(p, False, "r")
    adder = next(t for t in book if t.reaction == "add_margin")
    assert wants_to_act(adder, p, equity=140, maintenance=100, acted=False)
    assert not wants_to_act(adder, p, equity=140, maintenance=100, acted=True)
    assert not wants_to_act(adder, p, equity=90, maintenance=100, acted=False)
    closer = next(t for t in book if t.reaction == "close")
    assert wants_to_act(closer, p, closer.collateral_usd * 0.4, closer.collateral_usd * 0.1, False)
    assert not wants_to_act(closer, p, closer.collateral_usd * 0.9, closer.collateral_usd * 0.1, False)
