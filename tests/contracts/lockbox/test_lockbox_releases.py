"""Releases that cannot be paid at once: parked as Failed or Delayed, retried, redirected from the hub,
never dropped; rate limits; reentrancy through a hostile token."""

import pytest
from brownie import chain
from lockbox_support import UNIT, recovery, reverts_with

from checkpoints import NATIVE_TOKEN

DELAYED, FAILED = 1, 2


def pending(lockbox, nonce):
    """pendingRelease(nonce) as a dict."""
    account, reason, recipient, token, amount = lockbox.pendingRelease(nonce)
    return {"account": account, "reason": reason, "recipient": recipient, "token": token, "amount": amount}


def listed_token(container, lockbox, admin, depositor, amount, *args):
    """Deploys, lists and deposits `amount` of a test token (6 decimals)."""
    token = container.deploy("Test", "TST", 6, *args, {"from": admin})
    lockbox.listToken(token, {"from": admin})
    token.mint(depositor, amount, {"from": depositor})
    token.approve(lockbox, amount, {"from": depositor})
    lockbox.deposit(token, amount, depositor, {"from": depositor})
    return token


# ---------------------------------------------------------------------------- failed transfers


def test_false_returning_token_is_parked_then_retried_by_anyone(
    lockbox, FalseReturningToken, batches, admin, alice, bob, relayer
):
    token = listed_token(FalseReturningToken, lockbox, admin, alice, 1_000 * UNIT)
    token.setFailing(True, {"from": admin})

    tx = batches.process([(alice, bob.address, token.address, 400 * UNIT)], relayer)

    assert tx.events["ReleaseParked"] == {"nonce": 1, "reason": FAILED}
    assert "Released" not in tx.events
    assert route_nonce(lockbox) == 1  # the batch went through
    assert pending(lockbox, 1) == {
        "account": alice, "reason": FAILED, "recipient": bob, "token": token, "amount": 400 * UNIT
    }
    assert lockbox.owed(token) == 400 * UNIT
    assert lockbox.custodied(token) == 1_000 * UNIT

    with reverts_with("ReleaseTransferFailed", 1, bob.address):
        lockbox.retryRelease(1, {"from": relayer})
    assert pending(lockbox, 1)["reason"] == FAILED  # survives a failed retry

    token.setFailing(False, {"from": admin})
    tx = lockbox.retryRelease(1, {"from": relayer})  # anyone may retry; pays the recorded recipient
    assert tx.events["Released"] == {"nonce": 1, "recipient": bob, "token": token, "amount": 400 * UNIT}
    assert token.balanceOf(bob) == 400 * UNIT
    assert lockbox.custodied(token) == 600 * UNIT
    assert lockbox.owed(token) == 0
    assert pending(lockbox, 1)["reason"] == 0
    with reverts_with("ReleaseNotPending", 1):
        lockbox.retryRelease(1, {"from": relayer})


def test_blocked_recipient_is_parked_and_redirected_from_the_hub_by_its_account_only(
    lockbox, BlocklistToken, batches, admin, alice, bob, relayer, accounts
):
    token = listed_token(BlocklistToken, lockbox, admin, alice, 1_000 * UNIT)
    token.setBlocked(bob, True, {"from": admin})
    carol = accounts[5]
    good = (alice, alice.address, token.address, 10 * UNIT)

    tx = batches.process([(alice, bob.address, token.address, 300 * UNIT), good], relayer)

    assert tx.events["ReleaseParked"] == {"nonce": 1, "reason": FAILED}
    assert tx.events["Released"] == {"nonce": 2, "recipient": alice, "token": token, "amount": 10 * UNIT}
    assert not hasattr(lockbox, "redirectRelease")  # no redirect by address on the spoke
    tx = batches.process([recovery(bob, 1, bob), recovery(relayer, 1, relayer)], relayer)
    assert [(e["recoveryNonce"], e["target"], e["reason"]) for e in tx.events["ReleaseRecoveryRejected"]] == [
        (3, 1, 2), (4, 1, 2)  # AccountMismatch: the recipient, or anyone else, is not the account
    ]
    assert pending(lockbox, 1)["recipient"] == bob

    tx = batches.process([recovery(alice, 1, carol)], relayer)

    assert tx.events["ReleaseRedirected"] == {
        "nonce": 1, "recoveryNonce": 5, "previousRecipient": bob, "newRecipient": carol
    }
    assert tx.events["Released"] == {"nonce": 1, "recipient": carol, "token": token, "amount": 300 * UNIT}
    assert token.balanceOf(carol) == 300 * UNIT
    assert token.balanceOf(bob) == 0
    assert lockbox.custodied(token) == 690 * UNIT
    assert lockbox.owed(token) == 0


def test_redirect_to_another_refusing_recipient_keeps_release_parked(
    lockbox, BlocklistToken, batches, admin, alice, bob, relayer, accounts
):
    token = listed_token(BlocklistToken, lockbox, admin, alice, 100 * UNIT)
    carol = accounts[5]
    token.setBlocked(bob, True, {"from": admin})
    token.setBlocked(carol, True, {"from": admin})
    batches.process([(alice, bob.address, token.address, 100 * UNIT)], relayer)

    tx = batches.process([recovery(alice, 1, carol)], relayer)

    assert tx.events["ReleaseParked"] == {"nonce": 1, "reason": FAILED}
    assert pending(lockbox, 1)["recipient"] == carol
    assert lockbox.owed(token) == 100 * UNIT
    token.setBlocked(carol, False, {"from": admin})
    lockbox.retryRelease(1, {"from": bob})
    assert token.balanceOf(carol) == 100 * UNIT


def test_reverting_native_receiver_is_parked_then_retried(
    lockbox, native_listed, RevertingReceiver, batches, admin, alice, relayer
):
    receiver = RevertingReceiver.deploy(1, {"from": admin})  # Mode.Revert
    lockbox.depositNative(alice, {"from": alice, "value": 10**18})

    tx = batches.process([(alice, receiver.address, NATIVE_TOKEN, 4 * 10**17)], relayer)

    assert tx.events["ReleaseParked"] == {"nonce": 1, "reason": FAILED}
    assert lockbox.owed(NATIVE_TOKEN) == 4 * 10**17
    with reverts_with("ReleaseTransferFailed", 1, receiver.address):
        lockbox.retryRelease(1, {"from": relayer})

    receiver.setMode(0, {"from": admin})  # Mode.Accept
    lockbox.retryRelease(1, {"from": relayer})
    assert receiver.balance() == 4 * 10**17
    assert lockbox.balance() == 6 * 10**17 == lockbox.custodied(NATIVE_TOKEN)


def test_gas_burning_receiver_cannot_sink_the_batch(
    lockbox, native_listed, RevertingReceiver, batches, admin, alice, bob, relayer
):
    burner = RevertingReceiver.deploy(2, {"from": admin})  # Mode.BurnGas
    lockbox.depositNative(alice, {"from": alice, "value": 10**18})
    bob_before = bob.balance()

    tx = batches.process(
        [(alice, burner.address, NATIVE_TOKEN, 1), (alice, bob.address, NATIVE_TOKEN, 2)], relayer
    )

    assert tx.events["ReleaseParked"] == {"nonce": 1, "reason": FAILED}
    assert tx.events["Released"]["nonce"] == 2
    assert bob.balance() == bob_before + 2
    assert tx.gas_used < 300_000  # the burner only got NATIVE_RELEASE_GAS
    # redirected from the hub by its account to a working address, it is paid
    batches.process([recovery(alice, 1, alice)], relayer)
    assert lockbox.owed(NATIVE_TOKEN) == 0


def test_release_above_custody_is_parked(lockbox, usdc, batches, alice, bob, relayer):
    lockbox.deposit(usdc, 50 * UNIT, alice, {"from": alice})
    usdc.transfer(lockbox, 1_000 * UNIT, {"from": bob})  # a donation is nobody's deposit

    tx = batches.process([(alice, alice.address, usdc.address, 51 * UNIT)], relayer)

    assert tx.events["ReleaseParked"] == {"nonce": 1, "reason": FAILED}
    with reverts_with("ReleaseExceedsCustody", usdc.address, 50 * UNIT, 51 * UNIT):
        lockbox.retryRelease(1, {"from": relayer})


def test_release_while_paused_cannot_be_retried(
    lockbox, FalseReturningToken, batches, admin, guardian, alice, relayer
):
    token = listed_token(FalseReturningToken, lockbox, admin, alice, 10 * UNIT)
    token.setFailing(True, {"from": admin})
    batches.process([(alice, alice.address, token.address, UNIT)], relayer)
    token.setFailing(False, {"from": admin})
    lockbox.pauseReleases({"from": guardian})

    with reverts_with("ReleasesPaused"):
        lockbox.retryRelease(1, {"from": relayer})

    lockbox.unpauseReleases({"from": guardian})
    lockbox.retryRelease(1, {"from": relayer})
    assert token.balanceOf(alice) == UNIT


def test_no_return_token_release_succeeds(lockbox, NoReturnToken, batches, admin, alice, bob, relayer):
    token = NoReturnToken.deploy({"from": admin})
    lockbox.listToken(token, {"from": admin})
    token.mint(alice, 100, {"from": alice})
    token.approve(lockbox, 100, {"from": alice})
    lockbox.deposit(token, 100, alice, {"from": alice})

    tx = batches.process([(alice, bob.address, token.address, 60)], relayer)

    assert tx.events["Released"]["amount"] == 60
    assert token.balanceOf(bob) == 60


def test_release_of_a_codeless_token_is_parked(lockbox, batches, alice, bob, relayer, accounts):
    # a token address without code "succeeds" with empty return data: it must not count as paid
    fake = accounts[6]
    tx = batches.process([(alice, bob.address, fake.address, 0)], relayer)
    assert tx.events["ReleaseParked"] == {"nonce": 1, "reason": FAILED}


# ---------------------------------------------------------------------------- rate limits


def test_rate_limit_delays_then_releases_after_refill(lockbox, usdc, batches, admin, alice, bob, relayer):
    lockbox.deposit(usdc, 10_000 * UNIT, alice, {"from": alice})
    tx = lockbox.setRateLimit(usdc, 1_000 * UNIT, 10 * UNIT, {"from": admin})  # 10 USDC / s
    assert tx.events["RateLimitSet"] == {"token": usdc, "capacity": 1_000 * UNIT, "refillPerSecond": 10 * UNIT}
    assert lockbox.availableOutflow(usdc) == 1_000 * UNIT  # a new bucket starts full

    tx = batches.process(
        [(alice, bob.address, usdc.address, 600 * UNIT), (alice, bob.address, usdc.address, 600 * UNIT)], relayer
    )

    assert tx.events["Released"]["nonce"] == 1
    assert tx.events["ReleaseParked"] == {"nonce": 2, "reason": DELAYED}
    assert pending(lockbox, 2)["amount"] == 600 * UNIT
    assert lockbox.owed(usdc) == 600 * UNIT
    available = lockbox.availableOutflow(usdc)
    assert 400 * UNIT <= available < 600 * UNIT
    with reverts_with("ReleaseRateLimited"):
        lockbox.retryRelease(2, {"from": relayer})

    chain.sleep(25)  # +250 USDC of capacity
    chain.mine()
    tx = lockbox.retryRelease(2, {"from": relayer})

    assert tx.events["Released"] == {"nonce": 2, "recipient": bob, "token": usdc, "amount": 600 * UNIT}
    assert usdc.balanceOf(bob) == 1_000_000 * UNIT + 1_200 * UNIT
    assert lockbox.owed(usdc) == 0
    assert lockbox.availableOutflow(usdc) < 100 * UNIT


def test_release_larger_than_capacity_waits_for_governance(lockbox, usdc, batches, admin, alice, relayer):
    lockbox.deposit(usdc, 5_000 * UNIT, alice, {"from": alice})
    lockbox.setRateLimit(usdc, 1_000 * UNIT, 10 * UNIT, {"from": admin})
    batches.process([(alice, alice.address, usdc.address, 2_000 * UNIT)], relayer)

    chain.sleep(3_600)
    chain.mine()
    assert lockbox.availableOutflow(usdc) == 1_000 * UNIT  # the bucket never overflows capacity
    with reverts_with("ReleaseRateLimited", usdc.address, 1_000 * UNIT, 2_000 * UNIT):
        lockbox.retryRelease(1, {"from": relayer})
    assert pending(lockbox, 1)["reason"] == DELAYED  # never dropped

    lockbox.setRateLimit(usdc, 0, 0, {"from": admin})  # limit removed: unlimited
    assert lockbox.availableOutflow(usdc) == 2**256 - 1
    lockbox.retryRelease(1, {"from": relayer})
    assert lockbox.custodied(usdc) == 3_000 * UNIT


def test_failed_transfer_does_not_consume_rate_limit(
    lockbox, FalseReturningToken, batches, admin, alice, relayer
):
    token = listed_token(FalseReturningToken, lockbox, admin, alice, 1_000 * UNIT)
    lockbox.setRateLimit(token, 500 * UNIT, UNIT, {"from": admin})
    token.setFailing(True, {"from": admin})

    batches.process([(alice, alice.address, token.address, 400 * UNIT)], relayer)

    assert lockbox.availableOutflow(token) == 500 * UNIT


def test_rate_limit_rejects_half_set_or_oversized_limits(lockbox, usdc, admin):
    for capacity, refill in [(1, 0), (0, 1), (2**128, 1), (1, 2**128)]:
        with reverts_with("RateLimitInvalid", capacity, refill):
            lockbox.setRateLimit(usdc, capacity, refill, {"from": admin})


def test_lowering_a_limit_clamps_the_bucket(lockbox, usdc, admin):
    lockbox.setRateLimit(usdc, 1_000, 1, {"from": admin})
    lockbox.setRateLimit(usdc, 100, 1, {"from": admin})
    assert lockbox.availableOutflow(usdc) == 100
    assert [int(v) for v in lockbox.rateLimitOf(usdc)] == [100, 1]


# ---------------------------------------------------------------------------- reentrancy


@pytest.fixture
def reentrant(lockbox, ReentrantToken, admin, alice):
    return listed_token(ReentrantToken, lockbox, admin, alice, 1_000 * UNIT)


REENTRANCY_SELECTOR = "0x3ee5aeb5"  # ReentrancyGuardReentrantCall()


def test_reentering_process_withdrawals_during_a_release_fails(
    lockbox, reentrant, batches, admin, alice, bob, relayer
):
    msgs, checkpoint, sigs = batches.build([(alice, bob.address, reentrant.address, 100 * UNIT)])
    # on the payout, the token replays the very same batch into the lockbox and swallows the result
    reentrant.arm(lockbox, lockbox.processWithdrawals.encode_input(msgs, checkpoint, sigs), False, {"from": admin})

    tx = lockbox.processWithdrawals(msgs, checkpoint, sigs, {"from": relayer})

    assert reentrant.attempts() == 1
    assert not reentrant.lastSucceeded()
    assert reentrant.lastReturnSelector() == REENTRANCY_SELECTOR
    assert len(tx.events["Released"]) == 1
    assert reentrant.balanceOf(bob) == 100 * UNIT  # paid exactly once
    assert reentrant.balanceOf(lockbox) == 900 * UNIT == lockbox.custodied(reentrant)


def test_reentrant_token_that_bubbles_is_parked_and_books_stay_right(
    lockbox, reentrant, batches, admin, alice, bob, relayer
):
    # on the payout, the token tries to retry the same release (nonce 1) and reverts with that
    reentrant.arm(lockbox, lockbox.retryRelease.encode_input(1), True, {"from": admin})

    tx = batches.process([(alice, bob.address, reentrant.address, 100 * UNIT)], relayer)

    assert tx.events["ReleaseParked"] == {"nonce": 1, "reason": FAILED}
    assert reentrant.balanceOf(bob) == 0
    assert reentrant.balanceOf(lockbox) == 1_000 * UNIT == lockbox.custodied(reentrant)
    with reverts_with("ReleaseTransferFailed", 1, bob.address):  # still hostile
        lockbox.retryRelease(1, {"from": relayer})

    reentrant.arm("0x" + "00" * 20, b"", False, {"from": admin})
    lockbox.retryRelease(1, {"from": relayer})
    assert reentrant.balanceOf(bob) == 100 * UNIT
    assert reentrant.balanceOf(lockbox) == 900 * UNIT == lockbox.custodied(reentrant)


def test_reentering_deposit_during_a_deposit_fails(lockbox, reentrant, admin, alice):
    reentrant.mint(reentrant, 500 * UNIT, {"from": admin})
    reentrant.approveFromSelf(lockbox, 500 * UNIT, {"from": admin})  # the token could deposit
    # the token (as depositor) tries to deposit again from inside alice's transferFrom
    reentrant.arm(lockbox, lockbox.deposit.encode_input(reentrant, 1, alice), True, {"from": admin})
    reentrant.mint(alice, 100 * UNIT, {"from": alice})
    reentrant.approve(lockbox, 100 * UNIT, {"from": alice})

    with reverts_with("ReentrancyGuardReentrantCall"):
        lockbox.deposit(reentrant, 100 * UNIT, alice, {"from": alice})

    reentrant.arm(lockbox, lockbox.deposit.encode_input(reentrant, 1, alice), False, {"from": admin})
    tx = lockbox.deposit(reentrant, 100 * UNIT, alice, {"from": alice})
    assert reentrant.lastReturnSelector() == REENTRANCY_SELECTOR
    assert len(tx.events["Deposited"]) == 1
    assert tx.events["Deposited"]["amount"] == 100 * UNIT
    assert reentrant.balanceOf(lockbox) == 1_100 * UNIT == lockbox.custodied(reentrant)


def route_nonce(lockbox):
    return lockbox.withdrawalRoute()[0]
