"""Recovery messages on the withdrawal route: a parked release redirected or refunded on the
authority of its hub account (the ledger signs its caller into the message), never by whoever
holds that address on the spoke; exactly once, whatever the order of retries and recoveries."""

from brownie import chain, web3
from test_lockbox_releases import FAILED, listed_token, pending

from lockbox_support import UNIT, ZERO, recovery, reverts_with

DELAYED = 1
NOT_PARKED, ACCOUNT_MISMATCH, RECIPIENT_INVALID = 1, 2, 3
SAFE = "0x5afe5afE5afE5afE5afE5aFe5aFe5Afe5Afe5AfE"  # a hub smart account: no code, no key here


def rejected(tx):
    """(recoveryNonce, target, reason) of every ReleaseRecoveryRejected in `tx`."""
    if "ReleaseRecoveryRejected" not in tx.events:
        return []
    events = tx.events["ReleaseRecoveryRejected"]
    return [(e["recoveryNonce"], e["target"], e["reason"]) for e in events]


def park_blocked(lockbox, BlocklistToken, batches, admin, account, recipient, relayer, amount=300 * UNIT):
    """A token that refuses `recipient`, and release 1 of `amount` to it parked as Failed."""
    token = listed_token(BlocklistToken, lockbox, admin, relayer, 1_000 * UNIT)
    token.setBlocked(recipient, True, {"from": admin})
    tx = batches.process([(str(account), str(recipient), token.address, amount)], relayer)
    assert tx.events["ReleaseParked"] == {"nonce": 1, "reason": FAILED}
    return token


def test_refund_credits_the_hub_account_through_the_deposit_route(
    lockbox, BlocklistToken, batches, admin, alice, bob, relayer
):
    token = park_blocked(lockbox, BlocklistToken, batches, admin, alice, bob, relayer)
    deposit_nonce, _ = lockbox.depositRoute()

    tx = batches.process([recovery(alice, 1)], relayer)

    assert tx.events["ReleaseRefunded"] == {
        "nonce": 1, "recoveryNonce": 2, "account": alice, "depositNonce": deposit_nonce + 1
    }
    deposited = tx.events["Deposited"]
    assert (deposited["nonce"], deposited["depositor"], deposited["account"]) == (deposit_nonce + 1, lockbox, alice)
    assert (deposited["token"], deposited["amount"]) == (token, 300 * UNIT)
    assert lockbox.depositRoute() == (deposit_nonce + 1, deposited["head"])
    assert "Released" not in tx.events
    assert pending(lockbox, 1)["reason"] == 0
    assert lockbox.owed(token) == 0
    assert lockbox.custodied(token) == 1_000 * UNIT == token.balanceOf(lockbox)  # tokens stay in custody
    with reverts_with("ReleaseNotPending", 1):
        lockbox.retryRelease(1, {"from": relayer})


def test_smart_account_without_code_on_the_spoke_recovers_from_the_hub(
    lockbox, BlocklistToken, batches, admin, alice, bob, relayer, accounts
):
    carol = accounts[5]
    token = park_blocked(lockbox, BlocklistToken, batches, admin, SAFE, bob, relayer)
    assert len(web3.eth.get_code(SAFE)) == 0

    tx = batches.process([recovery(SAFE, 1, carol)], relayer)

    assert tx.events["ReleaseRedirected"]["newRecipient"] == carol
    assert tx.events["Released"] == {"nonce": 1, "recipient": carol, "token": token, "amount": 300 * UNIT}
    assert token.balanceOf(carol) == 300 * UNIT


def test_recoveries_from_other_accounts_or_for_unparked_releases_are_rejected_not_reverted(
    lockbox, BlocklistToken, usdc, batches, admin, alice, bob, relayer
):
    park_blocked(lockbox, BlocklistToken, batches, admin, alice, bob, relayer)
    lockbox.deposit(usdc, 10 * UNIT, alice, {"from": alice})
    batches.process([(alice, alice.address, usdc.address, UNIT)], relayer)  # nonce 2, paid

    tx = batches.process(
        [
            recovery(bob, 1, bob),  # 3: the recipient is not the account
            recovery(relayer, 1),  # 4: nor is anyone else, not even for a refund
            recovery(alice, 2, bob),  # 5: paid already
            recovery(alice, 99, bob),  # 6: never parked
            recovery(alice, 2**64 + 1, bob),  # 7: not a nonce
            recovery(alice, 1, lockbox.address),  # 8: a recipient nothing may be paid to
            (alice.address, alice.address, usdc.address, UNIT),  # 9: the batch goes on
        ],
        relayer,
    )

    assert rejected(tx) == [
        (3, 1, ACCOUNT_MISMATCH), (4, 1, ACCOUNT_MISMATCH), (5, 2, NOT_PARKED), (6, 99, NOT_PARKED),
        (7, 2**64 + 1, NOT_PARKED), (8, 1, RECIPIENT_INVALID),
    ]
    assert tx.events["Released"]["nonce"] == 9
    assert pending(lockbox, 1) == {
        "account": alice, "reason": FAILED, "recipient": bob, "token": pending(lockbox, 1)["token"],
        "amount": 300 * UNIT,
    }
    assert not hasattr(lockbox, "redirectRelease")


def test_no_double_pay_whatever_the_order(
    lockbox, BlocklistToken, batches, admin, alice, bob, relayer, accounts
):
    carol, dave = accounts[5], accounts[6]
    token = park_blocked(lockbox, BlocklistToken, batches, admin, alice, bob, relayer)
    token.setBlocked(carol, True, {"from": admin})

    # redirect to another refusing recipient: parked again under the new recipient
    tx = batches.process([recovery(alice, 1, carol)], relayer)
    assert tx.events["ReleaseParked"] == {"nonce": 1, "reason": FAILED}
    assert pending(lockbox, 1)["recipient"] == carol
    assert lockbox.owed(token) == 300 * UNIT
    # then a redirect that pays, and in the same batch a refund and a second redirect: rejected
    msgs = [recovery(alice, 1, dave), recovery(alice, 1), recovery(alice, 1, alice)]
    built = batches.build(msgs)
    tx = lockbox.processWithdrawals(*built, {"from": relayer})
    assert [e["nonce"] for e in tx.events["Released"]] == [1]
    assert rejected(tx) == [(4, 1, NOT_PARKED), (5, 1, NOT_PARKED)]
    assert "Deposited" not in tx.events
    assert token.balanceOf(dave) == 300 * UNIT
    assert lockbox.custodied(token) == 700 * UNIT
    # replaying the batch is refused by the route
    with reverts_with("BatchNonceMismatch"):
        lockbox.processWithdrawals(*built, {"from": relayer})
    with reverts_with("ReleaseNotPending", 1):
        lockbox.retryRelease(1, {"from": relayer})


def test_retry_first_then_a_late_refund_is_rejected(
    lockbox, BlocklistToken, batches, admin, alice, bob, relayer
):
    token = park_blocked(lockbox, BlocklistToken, batches, admin, alice, bob, relayer)
    token.setBlocked(bob, False, {"from": admin})
    lockbox.retryRelease(1, {"from": relayer})

    tx = batches.process([recovery(alice, 1)], relayer)

    assert rejected(tx) == [(2, 1, NOT_PARKED)]
    assert "Deposited" not in tx.events
    assert token.balanceOf(bob) == 300 * UNIT


def test_refund_after_a_redirect_parked_again_is_applied_once(
    lockbox, BlocklistToken, batches, admin, alice, bob, relayer, accounts
):
    carol = accounts[5]
    token = park_blocked(lockbox, BlocklistToken, batches, admin, alice, bob, relayer)
    token.setBlocked(carol, True, {"from": admin})

    tx = batches.process([recovery(alice, 1, carol), recovery(alice, 1), recovery(alice, 1)], relayer)

    assert tx.events["ReleaseParked"] == {"nonce": 1, "reason": FAILED}
    assert tx.events["ReleaseRefunded"]["recoveryNonce"] == 3
    assert len(tx.events["Deposited"]) == 1
    assert rejected(tx) == [(4, 1, NOT_PARKED)]
    assert lockbox.owed(token) == 0 and lockbox.custodied(token) == 1_000 * UNIT


def test_forced_park_no_longer_lets_the_spoke_address_holder_steal(
    lockbox, usdc, batches, admin, alice, bob, relayer
):
    """Bob holds, on the spoke, the address of Alice's hub account (a smart account there). He
    drains the bucket so that her release parks, then tries to take it: every path is closed."""
    lockbox.deposit(usdc, 1_000 * UNIT, bob, {"from": bob})
    lockbox.setRateLimit(usdc, 100 * UNIT, UNIT, {"from": admin})
    victim = SAFE
    tx = batches.process(
        [(bob.address, bob.address, usdc.address, 100 * UNIT), (victim, victim, usdc.address, 50 * UNIT)],
        relayer,
    )
    assert tx.events["ReleaseParked"] == {"nonce": 2, "reason": DELAYED}
    before = usdc.balanceOf(bob)

    # Bob cannot sign as the hub account: a recovery naming him is rejected, one naming the victim
    # can only come from the hub ledger, whose validators sign only what the victim asked for.
    tx = batches.process([recovery(bob, 2, bob), recovery(bob, 2)], relayer)
    assert rejected(tx) == [(3, 2, ACCOUNT_MISMATCH), (4, 2, ACCOUNT_MISMATCH)]
    assert not hasattr(lockbox, "redirectRelease")
    chain.sleep(60)
    lockbox.retryRelease(2, {"from": bob})  # anyone may retry: it pays the recorded recipient
    assert usdc.balanceOf(victim) == 50 * UNIT
    assert usdc.balanceOf(bob) == before


def test_redirect_over_the_rate_limit_parks_as_delayed_for_the_new_recipient(
    lockbox, usdc, batches, admin, alice, relayer, accounts
):
    carol = accounts[5]
    lockbox.deposit(usdc, 1_000 * UNIT, alice, {"from": alice})
    lockbox.setRateLimit(usdc, 100 * UNIT, UNIT, {"from": admin})
    batches.process(
        [(alice.address, alice.address, usdc.address, 80 * UNIT), (alice.address, ZERO, usdc.address, 80 * UNIT)],
        relayer,
    )
    assert pending(lockbox, 2)["reason"] == FAILED  # zero recipient; 20 left in the bucket

    tx = batches.process([recovery(alice, 2, carol)], relayer)

    assert tx.events["ReleaseParked"] == {"nonce": 2, "reason": DELAYED}
    assert pending(lockbox, 2)["recipient"] == carol
    chain.sleep(100)
    lockbox.retryRelease(2, {"from": relayer})
    assert usdc.balanceOf(carol) == 80 * UNIT
