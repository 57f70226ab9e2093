"""Fuzzed rounding of withdrawals (kept in its own module: brownie's @given takes the chain
snapshot, so it must not share function-scoped state with other tests)."""

import pytest
from brownie.test import given, strategy
from ledger_support import ONE, ONE_USDC_TOKEN, SPOKE_A, USDC, USDC_A, USDC_SCALE


@pytest.fixture(scope="module")
def funded(ledger, deposit, alice):
    deposit(SPOKE_A, [(alice, alice, USDC_A, 1_000 * ONE_USDC_TOKEN)])
    return ledger


@given(amount=strategy("uint256", min_value=USDC_SCALE, max_value=1_000 * ONE))
def test_withdrawal_never_creates_or_loses_dust(funded, alice, amount):
    before = funded.balanceOf(alice, USDC)
    tx = funded.requestWithdrawal(USDC, amount, SPOKE_A, alice, {"from": alice})
    token_amount = tx.events["WithdrawalQueued"][0]["amount"]
    assert token_amount == amount // USDC_SCALE
    assert before - funded.balanceOf(alice, USDC) == token_amount * USDC_SCALE
    assert funded.liquidity(SPOKE_A, USDC) * USDC_SCALE == funded.balanceOf(alice, USDC)


def test_fixed_input_rounding(funded, alice):
    funded.requestWithdrawal(USDC, 3 * USDC_SCALE - 1, SPOKE_A, alice, {"from": alice})
    assert funded.balanceOf(alice, USDC) == 1_000 * ONE - 2 * USDC_SCALE
