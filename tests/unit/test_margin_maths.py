"""Property-style tests (seeded random loops) of the pure margin maths mirror."""

import random
from fractions import Fraction
from math import floor

import pytest

from relayer.margin import ONE, div_floor, funding_delta, funding_rate, initial_margin_fraction, margins, pnl
from relayer.margin.errors import MarginInputError
from relayer.margin.liquidation import (
    cap_by_equity,
    collateral_sale,
    reward_and_penalty,
    settle_amounts,
    vault_shares_for,
    vault_value_of,
)

RNG_SEEDS = range(3)
N = 400


def _rand_size(rng: random.Random) -> int:
    return rng.randint(-10**24, 10**24)


@pytest.mark.parametrize("seed", RNG_SEEDS)
def test_div_floor_is_mathematical_floor(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(N):
        a, b = rng.randint(-10**40, 10**40), rng.randint(1, 10**20)
        assert div_floor(a, b) == floor(Fraction(a, b))


def test_div_floor_rejects_non_positive_divisor() -> None:
    with pytest.raises(MarginInputError):
        div_floor(1, 0)


@pytest.mark.parametrize("seed", RNG_SEEDS)
def test_margins_grow_with_size_and_mm_below_im(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(N):
        base, slope, ratio = rng.randint(1, ONE // 4), rng.randint(0, ONE // 100), rng.randint(1, ONE - 1)
        price = rng.randint(1, 10**23)
        s1 = _rand_size(rng)
        s2 = s1 + (1 if s1 >= 0 else -1) * rng.randint(0, 10**22)
        im1, mm1 = margins(s1, price, base, slope, ratio)
        im2, mm2 = margins(s2, price, base, slope, ratio)
        assert im2 >= im1 and mm2 >= mm1 and mm1 <= im1
        assert initial_margin_fraction(s2, base, slope) >= initial_margin_fraction(s1, base, slope)
        assert initial_margin_fraction(s1, base, slope) <= ONE
        exact_im = Fraction(abs(s1) * price, ONE) * Fraction(initial_margin_fraction(s1, base, slope), ONE)
        assert im1 >= exact_im  # rounded up: never under-margins


@pytest.mark.parametrize("seed", RNG_SEEDS)
def test_funding_rate_antisymmetric_and_bounded(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(N):
        skew, scale, mx = _rand_size(rng), rng.randint(1, 10**25), rng.randint(0, ONE)
        r = funding_rate(skew, scale, mx)
        assert funding_rate(-skew, scale, mx) == -r
        assert abs(r) <= mx
        assert (r >= 0) == (skew >= 0) or r == 0


def test_funding_rate_saturates_and_rejects_zero_scale() -> None:
    assert funding_rate(10 * ONE, ONE, ONE // 10) == ONE // 10
    with pytest.raises(MarginInputError):
        funding_rate(1, 0, 1)


@pytest.mark.parametrize("seed", RNG_SEEDS)
def test_pnl_of_opposite_positions_sums_to_zero_or_minus_one(seed: int) -> None:
    """Both sides round down, so the protocol keeps at most 1 wei per pair."""
    rng = random.Random(seed)
    for _ in range(N):
        s = _rand_size(rng)
        p0, p1 = rng.randint(1, 10**23), rng.randint(1, 10**23)
        f0, f1 = rng.randint(-10**20, 10**20), rng.randint(-10**20, 10**20)
        assert pnl(s, p1, p0, f1, f0) + pnl(-s, p1, p0, f1, f0) in (0, -1)


@pytest.mark.parametrize("seed", RNG_SEEDS)
def test_funding_delta_sign_follows_rate(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(N):
        r, p, t = rng.randint(-ONE, ONE), rng.randint(1, 10**23), rng.randint(0, 10**7)
        d = funding_delta(r, p, t)
        assert d == -funding_delta(-r, p, t)
        assert d == 0 or (d > 0) == (r > 0)


@pytest.mark.parametrize("seed", RNG_SEEDS)
def test_reward_and_penalty_never_exceed_released_margin(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(N):
        notional, released = rng.randint(0, 10**30), rng.randint(0, 10**28)
        r, p = reward_and_penalty(notional, released, rng.randint(0, ONE // 10), rng.randint(0, ONE // 10))
        assert 0 <= r and 0 <= p and r + p <= released


@pytest.mark.parametrize("seed", RNG_SEEDS)
def test_collateral_sale_never_lowers_weighted_equity(seed: int) -> None:
    """repay >= amount x price x weight: the account's equity cannot fall (discount <= haircut)."""
    rng = random.Random(seed)
    for _ in range(N):
        dec = rng.choice([6, 8, 18])
        bal, price = rng.randint(0, 10**(dec + 6)), rng.randint(10**15, 10**23)
        w, disc, limit = rng.randint(1, 10_000), rng.randint(0, ONE // 5), rng.randint(0, 10**27)
        sale = collateral_sale(bal, dec, price, w, disc, limit)
        assert sale.amount <= bal and sale.repay <= limit
        assert Fraction(sale.repay) >= Fraction(sale.amount * price * w, 10**dec * 10_000)


@pytest.mark.parametrize("seed", RNG_SEEDS)
def test_fees_capped_by_equity_never_create_a_deficit(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(N):
        equity = rng.randint(-10**22, 10**22)
        r, p = cap_by_equity(rng.randint(0, 10**22), rng.randint(0, 10**22), equity)
        assert 0 <= r and 0 <= p and equity - r - p >= min(equity, 0)


@pytest.mark.parametrize("seed", RNG_SEEDS)
def test_settlement_moves_equal_value_and_never_leaves_a_debt_it_could_net(seed: int) -> None:
    rng = random.Random(seed)
    unit = 10**6
    for _ in range(N):
        usd = rng.randint(-10**24, 10**24)
        own, cp = rng.randint(0, 10**12), rng.randint(0, 10**12)
        moved, units = settle_amounts(usd, own, cp, unit)
        assert moved == (units * 10**18 // unit) * (1 if moved >= 0 else -1)
        assert units <= (cp if usd > 0 else own)
        if usd > 0:
            assert 0 <= usd - moved  # never pays more than owed
        elif usd < 0 and units < own:
            assert usd - moved >= 0  # a debt the account's USDC covers is fully netted


def test_vault_inflation_attack_loses_the_donation() -> None:
    """1 unit deposit, $10k donation, victim deposits $10k: the victim keeps > $9,999."""
    unit_value = 10**12  # one USDC ledger unit in USD (1e18)
    attacker = vault_shares_for(unit_value, 0, 0)
    equity = unit_value + 10_000 * 10**18
    victim = vault_shares_for(10_000 * 10**18, attacker, equity)
    total, equity = attacker + victim, equity + 10_000 * 10**18
    assert vault_value_of(victim, total, equity) > 9_999 * 10**18
    assert vault_value_of(attacker, total, equity) < 10**18
