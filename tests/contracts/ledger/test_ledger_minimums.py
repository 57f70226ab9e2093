"""Minimum withdrawal per (spoke, asset) on the hub (issue 9): below it a request is refused with
a named error before anything is debited; governance alone sets it."""

from ledger_support import (
    GOVERNOR_ROLE,
    SPOKE_A,
    SPOKE_B,
    USDC,
    USDC_A,
    USDC_SCALE,
    assert_reverts,
    error,
)

TOKEN = 10**6


def test_withdrawal_below_the_minimum_is_refused(ledger, gov, deposit, alice):
    deposit(SPOKE_A, [(alice, alice, USDC_A, 100 * TOKEN)])
    minimum = 10 * TOKEN * USDC_SCALE
    tx = ledger.setMinWithdrawal(SPOKE_A, USDC, minimum, {"from": gov})
    assert tx.events["MinWithdrawalSet"]["amount"] == minimum
    assert ledger.minWithdrawal(SPOKE_A, USDC) == minimum
    assert_reverts(
        error("WithdrawalBelowMinimum(uint64,uint32,uint256,uint256)", SPOKE_A, USDC, minimum - 1, minimum),
        ledger.requestWithdrawal,
        USDC,
        minimum - 1,
        SPOKE_A,
        alice,
        sender=alice,
    )
    assert ledger.balanceOf(alice, USDC) == 100 * TOKEN * USDC_SCALE
    ledger.requestWithdrawal(USDC, minimum, SPOKE_A, alice, {"from": alice})
    assert ledger.minWithdrawal(SPOKE_B, USDC) == 0  # per destination spoke


def test_minimum_is_governance_only(ledger, guardian, alice):
    for caller in (guardian, alice):
        assert_reverts(
            error("AccessControlUnauthorizedAccount(address,bytes32)", str(caller), GOVERNOR_ROLE),
            ledger.setMinWithdrawal,
            SPOKE_A,
            USDC,
            1,
            sender=caller,
        )
