"""Withdrawal requests: debit in ledger units, release in token units, one hash-chained route
per spoke (recomputed here with checkpoints.withdrawal_leaf), every rejection, health check."""

import pytest
from checkpoints import extend, withdrawal_leaf
from ledger_support import (
    GUARDIAN_ROLE,
    JUNK_A,
    ONE,
    ONE_USDC_TOKEN,
    SPOKE_A,
    SPOKE_B,
    USDC,
    USDC_A,
    USDC_B,
    USDC_SCALE,
    WETH,
    WETH_A,
    assert_books_balance,
    assert_reverts,
    error,
    plain,
)

ZERO = "0x0000000000000000000000000000000000000000"


@pytest.fixture
def funded(ledger, deposit, alice, bob):
    """alice: 1000 USDC deposited on spoke A, 5 WETH on A; bob: 300 USDC on spoke B."""
    deposit(SPOKE_A, [(alice, alice, USDC_A, 1_000 * ONE_USDC_TOKEN), (alice, alice, WETH_A, 5 * ONE)])
    deposit(SPOKE_B, [(bob, bob, USDC_B, 300 * ONE_USDC_TOKEN)])
    return ledger


def test_withdrawal_debits_exact_token_multiple_and_queues_on_route(funded, alice, bob, stranger):
    ledger = funded
    amount = 250 * ONE + 123  # 123 ledger units below one token unit stay in the balance
    tx = ledger.requestWithdrawal(USDC, amount, SPOKE_B, stranger, {"from": alice})

    token_amount = 250 * ONE_USDC_TOKEN
    head = extend(bytes(32), withdrawal_leaf(1, alice, stranger, USDC_B, token_amount))
    assert plain(ledger.withdrawalRoute(SPOKE_B)) == [1, "0x" + head.hex()]
    assert plain(ledger.withdrawalRoute(SPOKE_A)) == [0, "0x" + bytes(32).hex()]
    assert ledger.balanceOf(alice, USDC) == 750 * ONE  # exactly token_amount * scale debited
    assert ledger.liquidity(SPOKE_B, USDC) == 50 * ONE_USDC_TOKEN  # withdrew on a spoke she never used
    assert ledger.liquidity(SPOKE_A, USDC) == 1_000 * ONE_USDC_TOKEN
    assert ledger.queuedTotal(SPOKE_B, USDC_B) == token_amount
    assert tx.events["WithdrawalQueued"][0] == {
        "destChainId": SPOKE_B,
        "nonce": 1,
        "account": alice,
        "recipient": stranger,
        "token": USDC_B,
        "amount": token_amount,
        "head": "0x" + head.hex(),
    }
    assert_books_balance(ledger, [alice, bob])


def test_withdrawal_route_chains_consecutive_requests(funded, alice, bob):
    ledger = funded
    ledger.requestWithdrawal(USDC, 10 * ONE, SPOKE_A, alice, {"from": alice})
    ledger.requestWithdrawal(WETH, ONE + 1, SPOKE_A, bob, {"from": alice})
    ledger.requestWithdrawal(USDC, 2 * ONE, SPOKE_A, bob, {"from": bob})

    head = bytes(32)
    for nonce, fields in enumerate(
        [(alice, alice, USDC_A, 10 * ONE_USDC_TOKEN), (alice, bob, WETH_A, ONE + 1), (bob, bob, USDC_A, 2 * ONE_USDC_TOKEN)],
        start=1,
    ):
        head = extend(head, withdrawal_leaf(nonce, *fields))
    assert plain(ledger.withdrawalRoute(SPOKE_A)) == [3, "0x" + head.hex()]
    assert ledger.queuedTotal(SPOKE_A, USDC_A) == 12 * ONE_USDC_TOKEN
    assert ledger.balanceOf(bob, USDC) == 298 * ONE
    assert_books_balance(ledger, [alice, bob])


def test_whole_balance_can_be_withdrawn(funded, alice, bob):
    funded.requestWithdrawal(WETH, 5 * ONE, SPOKE_A, alice, {"from": alice})
    assert funded.balanceOf(alice, WETH) == 0
    assert funded.liquidity(SPOKE_A, WETH) == 0
    assert_books_balance(funded, [alice, bob])


def test_withdrawal_of_capped_asset_frees_cap_room(funded, deposit, gov, alice, bob):
    funded.setCollateralParams(USDC, 10_000, 1_300 * ONE, {"from": gov})
    funded.requestWithdrawal(USDC, 100 * ONE, SPOKE_A, alice, {"from": alice})
    assert funded.assetInfo(USDC)[4] == 1_200 * ONE
    deposit(SPOKE_A, [(bob, bob, USDC_A, 100 * ONE_USDC_TOKEN), (bob, bob, USDC_A, 1)])
    assert funded.balanceOf(bob, USDC) == 400 * ONE
    assert funded.claimOf(bob, SPOKE_A, USDC_A) == 1
    assert_books_balance(funded, [alice, bob])


# ----------------------------------------------------------------------------- rejections


def test_zero_amount_rejected(funded, alice):
    assert_reverts(error("WithdrawalAmountZero()"), funded.requestWithdrawal, USDC, 0, SPOKE_A, alice, sender=alice)


def test_amount_below_one_token_unit_rejected(funded, alice):
    assert_reverts(
        error("WithdrawalAmountZero()"), funded.requestWithdrawal, USDC, USDC_SCALE - 1, SPOKE_A, alice, sender=alice
    )


def test_zero_recipient_rejected(funded, alice):
    assert_reverts(error("WithdrawalRecipientZero()"), funded.requestWithdrawal, USDC, ONE, SPOKE_A, ZERO, sender=alice)


def test_paused_withdrawals_rejected_until_unpaused(funded, guardian, alice):
    tx = funded.setWithdrawalsPaused(True, {"from": guardian})
    assert tx.events["WithdrawalsPauseSet"][0]["paused"] is True
    assert_reverts(error("WithdrawalsPaused()"), funded.requestWithdrawal, USDC, ONE, SPOKE_A, alice, sender=alice)
    assert_reverts(
        error("WithdrawalsPaused()"), funded.requestClaimWithdrawal, SPOKE_A, JUNK_A, 1, alice, sender=alice
    )
    funded.setWithdrawalsPaused(False, {"from": guardian})
    funded.requestWithdrawal(USDC, ONE, SPOKE_A, alice, {"from": alice})
    assert funded.withdrawalRoute(SPOKE_A)[0] == 1


def test_unknown_spoke_rejected(funded, alice):
    assert_reverts(error("RouteUnknown(uint64)", 777), funded.requestWithdrawal, USDC, ONE, 777, alice, sender=alice)


def test_asset_not_on_spoke_rejected(funded, alice):
    assert_reverts(
        error("AssetNotOnSpoke(uint32,uint64)", WETH, SPOKE_B),
        funded.requestWithdrawal,
        WETH,
        ONE,
        SPOKE_B,
        alice,
        sender=alice,
    )


def test_balance_exceeded_rejected(funded, alice, bob):
    assert_reverts(
        error("WithdrawalExceedsBalance(address,uint32,uint256,uint256)", str(bob), USDC, 300 * ONE, 301 * ONE),
        funded.requestWithdrawal,
        USDC,
        301 * ONE + 5,
        SPOKE_B,
        bob,
        sender=bob,
    )


def test_spoke_liquidity_exceeded_rejected(funded, alice):
    # alice holds 1000 USDC, but spoke B's lockbox holds only 300 for ledger balances.
    assert_reverts(
        error(
            "WithdrawalExceedsLiquidity(uint64,uint32,uint256,uint256)",
            SPOKE_B,
            USDC,
            300 * ONE_USDC_TOKEN,
            301 * ONE_USDC_TOKEN,
        ),
        funded.requestWithdrawal,
        USDC,
        301 * ONE,
        SPOKE_B,
        alice,
        sender=alice,
    )


def test_unhealthy_account_rejected_and_nothing_changes(funded, gov, risk_engine, alice):
    funded.setRiskEngine(risk_engine, {"from": gov})
    risk_engine.setUnhealthy(alice, True, {"from": gov})
    assert_reverts(
        error("WithdrawalLeavesAccountUnhealthy(address)", str(alice)),
        funded.requestWithdrawal,
        USDC,
        ONE,
        SPOKE_A,
        alice,
        sender=alice,
    )
    assert funded.balanceOf(alice, USDC) == 1_000 * ONE
    assert funded.withdrawalRoute(SPOKE_A)[0] == 0
    assert funded.liquidity(SPOKE_A, USDC) == 1_000 * ONE_USDC_TOKEN


def test_engine_judges_the_balance_after_the_debit(funded, gov, risk_engine, alice):
    funded.setRiskEngine(risk_engine, {"from": gov})
    risk_engine.setMinBalance(alice, 900 * ONE, {"from": gov})
    assert_reverts(
        error("WithdrawalLeavesAccountUnhealthy(address)", str(alice)),
        funded.requestWithdrawal,
        USDC,
        101 * ONE,
        SPOKE_A,
        alice,
        sender=alice,
    )
    funded.requestWithdrawal(USDC, 100 * ONE, SPOKE_A, alice, {"from": alice})
    assert funded.balanceOf(alice, USDC) == 900 * ONE


def test_healthy_account_passes_and_engine_can_be_removed(funded, gov, risk_engine, alice):
    tx = funded.setRiskEngine(risk_engine, {"from": gov})
    assert tx.events["RiskEngineSet"][0]["engine"] == risk_engine
    funded.requestWithdrawal(USDC, ONE, SPOKE_A, alice, {"from": alice})
    risk_engine.setUnhealthy(alice, True, {"from": gov})
    funded.setRiskEngine(ZERO, {"from": gov})
    funded.requestWithdrawal(USDC, ONE, SPOKE_A, alice, {"from": alice})
    assert funded.withdrawalRoute(SPOKE_A)[0] == 2


def test_delisted_token_can_still_be_withdrawn(funded, gov, alice):
    funded.setTokenListed(SPOKE_A, USDC_A, False, {"from": gov})
    funded.requestWithdrawal(USDC, 10 * ONE, SPOKE_A, alice, {"from": alice})
    assert funded.balanceOf(alice, USDC) == 990 * ONE


# ----------------------------------------------------------------------------- claims


def test_claim_withdrawal_goes_back_on_its_chain(funded, deposit, alice, bob):
    deposit(SPOKE_A, [(alice, alice, JUNK_A, 900)])
    tx = funded.requestClaimWithdrawal(SPOKE_A, JUNK_A, 600, bob, {"from": alice})

    head = extend(bytes(32), withdrawal_leaf(1, alice, bob, JUNK_A, 600))
    assert plain(funded.withdrawalRoute(SPOKE_A)) == [1, "0x" + head.hex()]
    assert funded.claimOf(alice, SPOKE_A, JUNK_A) == 300
    assert funded.totalClaims(SPOKE_A, JUNK_A) == 300
    assert funded.queuedTotal(SPOKE_A, JUNK_A) == 600
    assert tx.events["WithdrawalQueued"][0]["token"] == JUNK_A
    assert tx.events["WithdrawalQueued"][0]["amount"] == 600


def test_over_cap_claim_withdrawal_leaves_liquidity(funded, deposit, gov, alice):
    funded.setCollateralParams(USDC, 10_000, 1_301 * ONE, {"from": gov})  # 1300 already credited
    deposit(SPOKE_A, [(alice, alice, USDC_A, 1 * ONE_USDC_TOKEN)])  # room for it: credited
    deposit(SPOKE_A, [(alice, alice, USDC_A, 1_000 * ONE_USDC_TOKEN)])  # over cap: claim
    funded.requestClaimWithdrawal(SPOKE_A, USDC_A, 1_000 * ONE_USDC_TOKEN, alice, {"from": alice})
    assert funded.liquidity(SPOKE_A, USDC) == 1_001 * ONE_USDC_TOKEN
    assert funded.claimOf(alice, SPOKE_A, USDC_A) == 0


def test_claim_withdrawal_rejections(funded, deposit, alice):
    deposit(SPOKE_A, [(alice, alice, JUNK_A, 5)])
    assert_reverts(error("WithdrawalAmountZero()"), funded.requestClaimWithdrawal, SPOKE_A, JUNK_A, 0, alice, sender=alice)
    assert_reverts(
        error("WithdrawalRecipientZero()"), funded.requestClaimWithdrawal, SPOKE_A, JUNK_A, 1, ZERO, sender=alice
    )
    assert_reverts(error("RouteUnknown(uint64)", 9), funded.requestClaimWithdrawal, 9, JUNK_A, 1, alice, sender=alice)
    assert_reverts(
        error("ClaimWithdrawalExceedsClaim(address,uint64,address,uint256,uint256)", str(alice), SPOKE_A, JUNK_A, 5, 6),
        funded.requestClaimWithdrawal,
        SPOKE_A,
        JUNK_A,
        6,
        alice,
        sender=alice,
    )


def test_claims_cannot_be_withdrawn_on_another_chain(funded, deposit, alice):
    deposit(SPOKE_A, [(alice, alice, JUNK_A, 5)])
    assert_reverts(
        error("ClaimWithdrawalExceedsClaim(address,uint64,address,uint256,uint256)", str(alice), SPOKE_B, JUNK_A, 0, 5),
        funded.requestClaimWithdrawal,
        SPOKE_B,
        JUNK_A,
        5,
        alice,
        sender=alice,
    )


def test_only_guardian_pauses(funded, gov, guardian):
    assert not funded.hasRole(GUARDIAN_ROLE, gov)
    assert funded.withdrawalsPaused() is False
