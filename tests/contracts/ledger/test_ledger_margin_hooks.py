"""The ledger <-> margin engine seam (briefs/hooks.md): USD transfers, collateral transfers,
bad debt write-off; the USD books always sum to recorded bad debt."""

from ledger_support import (
    MARGIN_ROLE,
    ONE,
    ONE_USDC_TOKEN,
    SPOKE_A,
    USDC,
    USDC_A,
    WETH,
    WETH_A,
    assert_books_balance,
    assert_reverts,
    error,
)


def _usd_sum(ledger, holders):
    return sum(ledger.usdBalanceOf(h) for h in holders)


def test_transfer_usd_is_zero_sum_and_may_go_negative(ledger, margin, alice, bob):
    tx = ledger.transferUsd(alice, bob, 250, {"from": margin})
    assert ledger.usdBalanceOf(alice) == -250
    assert ledger.usdBalanceOf(bob) == 250
    assert _usd_sum(ledger, [alice, bob]) == ledger.badDebt() == 0
    assert tx.events["UsdTransferred"][0] == {"from": alice, "to": bob, "amount": 250}


def test_transfer_usd_rejects_amount_past_int256(ledger, margin, alice, bob):
    assert_reverts(
        error("SafeCastOverflowedUintToInt(uint256)", 2**255),
        ledger.transferUsd,
        alice,
        bob,
        2**255,
        sender=margin,
    )


def test_write_off_moves_negative_balance_into_bad_debt(ledger, margin, gov, alice, bob, stranger):
    ledger.setInsuranceFund(stranger, {"from": gov})
    ledger.transferUsd(alice, bob, 700, {"from": margin})
    ledger.transferUsd(alice, stranger, 300, {"from": margin})  # fund takes a fee, say
    ledger.transferUsd(stranger, alice, 100, {"from": margin})  # and covers part of the hole

    tx = ledger.writeOffBadDebt(alice, {"from": margin})

    assert tx.return_value == 900
    assert tx.events["BadDebtWrittenOff"][0] == {"account": alice, "amount": 900}
    assert ledger.usdBalanceOf(alice) == 0
    assert ledger.badDebt() == 900
    assert _usd_sum(ledger, [alice, bob, stranger]) == ledger.badDebt()
    assert ledger.insuranceFund() == stranger


def test_write_off_of_solvent_account_is_a_no_op(ledger, margin, alice, bob):
    ledger.transferUsd(alice, bob, 5, {"from": margin})
    tx = ledger.writeOffBadDebt(bob, {"from": margin})
    assert tx.return_value == 0
    assert "BadDebtWrittenOff" not in tx.events
    assert ledger.usdBalanceOf(bob) == 5
    assert ledger.badDebt() == 0


def test_transfer_collateral_moves_ledger_units(ledger, deposit, margin, alice, bob):
    deposit(SPOKE_A, [(alice, alice, USDC_A, 10 * ONE_USDC_TOKEN)])
    tx = ledger.transferCollateral(alice, bob, USDC, 3 * ONE + 1, {"from": margin})
    assert ledger.balanceOf(alice, USDC) == 7 * ONE - 1
    assert ledger.balanceOf(bob, USDC) == 3 * ONE + 1
    assert tx.events["CollateralTransferred"][0] == {"from": alice, "to": bob, "assetId": USDC, "amount": 3 * ONE + 1}
    assert_books_balance(ledger, [alice, bob])


def test_transfer_collateral_beyond_balance_rejected(ledger, deposit, margin, alice, bob):
    deposit(SPOKE_A, [(alice, alice, USDC_A, 1)])
    assert_reverts(
        error("CollateralTransferExceedsBalance(address,uint32,uint256,uint256)", str(alice), USDC, 10**12, 10**12 + 1),
        ledger.transferCollateral,
        alice,
        bob,
        USDC,
        10**12 + 1,
        sender=margin,
    )


def test_hooks_require_margin_role(ledger, stranger, alice, bob):
    denied = error("AccessControlUnauthorizedAccount(address,bytes32)", str(stranger), MARGIN_ROLE)
    assert_reverts(denied, ledger.transferUsd, alice, bob, 1, sender=stranger)
    assert_reverts(denied, ledger.transferCollateral, alice, bob, USDC, 0, sender=stranger)
    assert_reverts(denied, ledger.writeOffBadDebt, alice, sender=stranger)


def test_account_cannot_move_its_own_usd(ledger, alice, bob):
    denied = error("AccessControlUnauthorizedAccount(address,bytes32)", str(alice), MARGIN_ROLE)
    assert_reverts(denied, ledger.transferUsd, bob, alice, 1, sender=alice)


def _state(ledger, account):
    held, usd = ledger.collateralState(account)
    return [tuple(int(x) for x in h) for h in held], int(usd)


def test_collateral_state_lists_held_weighted_assets_and_usd(ledger, deposit, margin, gov, alice, bob):
    """The health check's one call: listed assets of non-zero balance and weight, in listing
    order, as (assetId, decimals, weightBps, balance), and the signed USD balance."""
    assert _state(ledger, bob) == ([], 0)
    deposit(SPOKE_A, [(alice, alice, USDC_A, 10 * ONE_USDC_TOKEN), (alice, alice, WETH_A, 2 * ONE)])
    ledger.transferUsd(alice, bob, 250, {"from": margin})
    assert _state(ledger, alice) == ([(USDC, 18, 10_000, 10 * ONE), (WETH, 18, 8_000, 2 * ONE)], -250)
    assert _state(ledger, bob) == ([], 250)
    ledger.setCollateralParams(USDC, 0, 0, {"from": gov})  # weight 0: not collateral, left out
    assert _state(ledger, alice) == ([(WETH, 18, 8_000, 2 * ONE)], -250)
    ledger.transferCollateral(alice, bob, WETH, 2 * ONE, {"from": margin})  # balance 0: left out
    assert _state(ledger, alice) == ([], -250)
    assert _state(ledger, bob) == ([(WETH, 18, 8_000, 2 * ONE)], 250)
