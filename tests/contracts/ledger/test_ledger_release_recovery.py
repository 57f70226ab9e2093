"""Recovering a parked release from the hub: `requestReleaseRecovery` appends a recovery message
to the withdrawal route (checked here leaf by leaf), and, with a real Lockbox on the same chain
behind the route, the redirect is paid and the refund comes back as a deposit that credits the
account again, exactly once; a smart account that exists only on the hub recovers its funds."""

import pytest
from brownie import chain

from checkpoints import addresses, extend, sign_checkpoint, withdrawal_leaf
from ledger_support import (
    ONE_USDC_TOKEN,
    SPOKE_A,
    THRESHOLD,
    USDC,
    USDC_A,
    VALIDATORS,
    assert_reverts,
    error,
    signed_batch,
)

MARKER = "0x3e471713Ba29bf8523714805800AbED4E99511Aa"  # libraries/RecoveryMessage.sol
ZERO = "0x0000000000000000000000000000000000000000"
HUB = 7777  # the lockbox's view of the hub chain id (the ledger never reads its own)
SPOKE_C = 31340
FAILED = 2
SIGNERS = VALIDATORS[:THRESHOLD]


# ----------------------------------------------------------------------------- ledger side


def test_recovery_request_is_hash_chained_as_a_marked_withdrawal(ledger, deposit, alice, bob):
    deposit(SPOKE_A, [(alice, alice, USDC_A, 100 * ONE_USDC_TOKEN)])
    ledger.requestWithdrawal(USDC, 10 * 10**18, SPOKE_A, bob, {"from": alice})
    nonce, head = ledger.withdrawalRoute(SPOKE_A)
    balance = ledger.balanceOf(alice, USDC)

    tx = ledger.requestReleaseRecovery(SPOKE_A, 1, bob, {"from": alice})

    queued = tx.events["WithdrawalQueued"]
    expected = extend(bytes(head), withdrawal_leaf(nonce + 1, alice.address, bob.address, MARKER, 1))
    assert bytes(queued["head"]) == expected == bytes(ledger.withdrawalRoute(SPOKE_A)[1])
    assert (queued["nonce"], queued["account"], queued["recipient"], queued["token"], queued["amount"]) == (
        2, alice, bob, MARKER, 1
    )
    assert tx.events["ReleaseRecoveryRequested"] == {
        "destChainId": SPOKE_A, "recoveryNonce": 2, "account": alice, "target": 1, "newRecipient": bob
    }
    assert ledger.balanceOf(alice, USDC) == balance  # nothing debited or credited on the hub
    assert ledger.queuedTotal(SPOKE_A, MARKER) == 0
    refund = ledger.requestReleaseRecovery(SPOKE_A, 1, ZERO, {"from": alice})  # zero = refund
    assert refund.events["WithdrawalQueued"]["recipient"] == ZERO


def test_recovery_request_refuses_unknown_targets_routes_and_pause(ledger, deposit, alice, bob, guardian):
    deposit(SPOKE_A, [(alice, alice, USDC_A, 100 * ONE_USDC_TOKEN)])
    ledger.requestWithdrawal(USDC, 10 * 10**18, SPOKE_A, bob, {"from": alice})
    fn = ledger.requestReleaseRecovery
    assert_reverts(error("RecoveryTargetUnknown(uint64,uint64)", SPOKE_A, 0), fn, SPOKE_A, 0, bob, sender=alice)
    assert_reverts(error("RecoveryTargetUnknown(uint64,uint64)", SPOKE_A, 2), fn, SPOKE_A, 2, bob, sender=alice)
    assert_reverts(error("RouteUnknown(uint64)", 5), fn, 5, 1, bob, sender=alice)
    ledger.setWithdrawalsPaused(True, {"from": guardian})
    assert_reverts(error("WithdrawalsPaused()"), fn, SPOKE_A, 1, bob, sender=alice)


def test_the_recovery_marker_can_never_be_listed_as_a_token(ledger, gov):
    assert_reverts(error("TokenReserved(address)", MARKER), ledger.listToken, SPOKE_A, MARKER, USDC, 6, sender=gov)


# ----------------------------------------------------------------------------- hub to spoke


class Bridge:
    """A real Lockbox behind spoke SPOKE_C of the fixture ledger, and the relay both ways."""

    def __init__(self, ledger, lockbox, token, relayer, depositor):
        self.ledger, self.lockbox, self.token, self.relayer = ledger, lockbox, token, relayer
        self.depositor = depositor  # holds the spoke tokens

    def to_spoke(self, *hub_txs):
        """Delivers the WithdrawalQueued messages of `hub_txs` to the lockbox, signed by the quorum."""
        msgs = [
            (e["account"], e["recipient"], e["token"], e["amount"])
            for tx in hub_txs for e in tx.events["WithdrawalQueued"]
        ]
        nonce, head = self.ledger.withdrawalRoute(SPOKE_C)
        processed, _ = self.lockbox.withdrawalRoute()
        assert processed + len(msgs) == nonce
        sigs = sign_checkpoint(SIGNERS, chain.id, self.lockbox.address, HUB, self.ledger.address, nonce, bytes(head))
        checkpoint = (HUB, self.ledger.address, nonce, bytes(head))
        return self.lockbox.processWithdrawals(msgs, checkpoint, sigs, {"from": self.relayer})

    def to_hub(self, *spoke_txs):
        """Delivers the Deposited messages of `spoke_txs` to the ledger, signed by the quorum."""
        events = [e for tx in spoke_txs for e in tx.events["Deposited"]]
        msgs = [(e["depositor"], e["account"], e["token"], e["amount"]) for e in events]
        batch = signed_batch(self.ledger, SPOKE_C, self.lockbox, msgs)
        return self.ledger.processDeposits(*batch, {"from": self.relayer})


@pytest.fixture
def bridge(ledger, gov, relayer, alice, Lockbox, BlocklistToken):
    lockbox = Lockbox.deploy(HUB, ledger, gov, {"from": gov})
    lockbox.setValidators(HUB, addresses(VALIDATORS), THRESHOLD, {"from": gov})
    token = BlocklistToken.deploy("USD Coin", "USDC", 6, {"from": gov})
    lockbox.listToken(token, {"from": gov})
    ledger.registerSpoke(SPOKE_C, lockbox, {"from": gov})
    ledger.setValidators(SPOKE_C, addresses(VALIDATORS), THRESHOLD, {"from": gov})
    ledger.listToken(SPOKE_C, token, USDC, 6, {"from": gov})
    token.mint(alice, 10_000 * ONE_USDC_TOKEN, {"from": alice})
    token.approve(lockbox, 2**256 - 1, {"from": alice})
    return Bridge(ledger, lockbox, token, relayer, alice)


def fund_and_park(bridge, account, recipient, sender, amount=300):
    """Alice deposits 1,000 USDC on the spoke for hub `account` (credited on the hub); `account`
    withdraws `amount` to `recipient`, whom the token refuses: the release parks. `sender(fn, *args)`
    sends a hub transaction as `account`. Returns the withdrawal nonce."""
    alice = bridge.depositor
    bridge.token.setBlocked(recipient, True, {"from": alice})
    bridge.to_hub(bridge.lockbox.deposit(bridge.token, 1_000 * ONE_USDC_TOKEN, account, {"from": alice}))
    queued = sender(bridge.ledger.requestWithdrawal, USDC, amount * 10**18, SPOKE_C, recipient)
    assert bridge.to_spoke(queued).events["ReleaseParked"]["reason"] == FAILED
    return queued.events["WithdrawalQueued"]["nonce"]


def as_eoa(account):
    return lambda fn, *args: fn(*args, {"from": account})


def test_redirect_authorised_on_the_hub_is_paid_on_the_spoke_once(bridge, alice, bob, stranger, accounts):
    carol = accounts[7]
    nonce = fund_and_park(bridge, alice, bob, as_eoa(alice))
    ledger, lockbox, token = bridge.ledger, bridge.lockbox, bridge.token

    other = ledger.requestReleaseRecovery(SPOKE_C, nonce, stranger, {"from": stranger})
    redirect = ledger.requestReleaseRecovery(SPOKE_C, nonce, carol, {"from": alice})
    late_refund = ledger.requestReleaseRecovery(SPOKE_C, nonce, ZERO, {"from": alice})
    tx = bridge.to_spoke(other, redirect, late_refund)

    assert [(e["recoveryNonce"], e["reason"]) for e in tx.events["ReleaseRecoveryRejected"]] == [(2, 2), (4, 1)]
    assert tx.events["Released"] == {"nonce": nonce, "recipient": carol, "token": token, "amount": 300 * ONE_USDC_TOKEN}
    assert "Deposited" not in tx.events
    assert token.balanceOf(carol) == 300 * ONE_USDC_TOKEN and token.balanceOf(stranger) == 0
    assert ledger.balanceOf(alice, USDC) == 700 * 10**18
    assert ledger.liquidity(SPOKE_C, USDC) == 700 * ONE_USDC_TOKEN == lockbox.custodied(token)


def test_refund_authorised_on_the_hub_credits_the_account_again_exactly_once(bridge, alice, bob, relayer):
    nonce = fund_and_park(bridge, alice, bob, as_eoa(alice))
    ledger, lockbox, token = bridge.ledger, bridge.lockbox, bridge.token
    assert ledger.balanceOf(alice, USDC) == 700 * 10**18

    refund = ledger.requestReleaseRecovery(SPOKE_C, nonce, ZERO, {"from": alice})
    again = ledger.requestReleaseRecovery(SPOKE_C, nonce, ZERO, {"from": alice})
    on_spoke = bridge.to_spoke(refund, again)

    assert on_spoke.events["ReleaseRefunded"]["recoveryNonce"] == 2
    assert [e["recoveryNonce"] for e in on_spoke.events["ReleaseRecoveryRejected"]] == [3]
    (credit,) = on_spoke.events["Deposited"]
    assert (credit["depositor"], credit["account"], credit["amount"]) == (lockbox, alice, 300 * ONE_USDC_TOKEN)
    assert lockbox.custodied(token) == 1_000 * ONE_USDC_TOKEN == token.balanceOf(lockbox)
    credit_msg = (lockbox.address, alice.address, token.address, 300 * ONE_USDC_TOKEN)
    batch = signed_batch(ledger, SPOKE_C, lockbox, [credit_msg])
    on_hub = ledger.processDeposits(*batch, {"from": relayer})

    assert on_hub.events["DepositCredited"] == {"account": alice, "assetId": USDC, "amount": 300 * 10**18}
    assert ledger.balanceOf(alice, USDC) == 1_000 * 10**18
    assert ledger.liquidity(SPOKE_C, USDC) == 1_000 * ONE_USDC_TOKEN == lockbox.custodied(token)
    assert_reverts(
        error("BatchNonceMismatch(uint64,uint256,uint64)", 2, 1, 2), ledger.processDeposits, *batch, sender=relayer
    )
    assert lockbox.owed(token) == 0 and lockbox.pendingRelease(nonce)[1] == 0


def test_smart_account_recovers_through_the_hub_only(bridge, SmartAccount, alice, bob, stranger):
    """The account is a contract on the hub acting through its owner. Nothing on the spoke side
    is asked of its address (the lockbox has no redirect by address): the ledger's message is
    enough, and nobody else's hub call can move its release."""
    safe = SmartAccount.deploy(alice, {"from": alice})
    ledger, token = bridge.ledger, bridge.token

    def as_safe(fn, *args):
        return safe.execute(ledger, fn.encode_input(*args), {"from": alice})

    nonce = fund_and_park(bridge, safe, bob, as_safe)
    hijack = ledger.requestReleaseRecovery(SPOKE_C, nonce, stranger, {"from": stranger})
    recover = as_safe(ledger.requestReleaseRecovery, SPOKE_C, nonce, alice)
    tx = bridge.to_spoke(hijack, recover)

    assert [e["reason"] for e in tx.events["ReleaseRecoveryRejected"]] == [2]
    assert tx.events["Released"]["recipient"] == alice
    assert token.balanceOf(alice) == 9_300 * ONE_USDC_TOKEN  # 10,000 minted, 1,000 deposited, 300 back
    assert token.balanceOf(stranger) == 0
