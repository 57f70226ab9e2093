"""Withdrawal batches: protocol check order, exactly-once processing, quorum, route state."""

import pytest
from brownie import ZERO_ADDRESS, chain
from lockbox_support import (
    HUB_CHAIN_ID,
    SIGNERS,
    UNIT,
    VALIDATORS,
    deploy_lockbox,
    recovery,
    reverts_with,
    route,
)

from checkpoints import NATIVE_TOKEN, VALIDATOR_KEYS, fold, sign_checkpoint, withdrawal_leaf

ZERO_HEAD = bytes(32)


@pytest.fixture
def funded(lockbox, usdc, native_listed, alice):
    """The lockbox holds 10,000 USDC and 5 ETH deposited by alice."""
    lockbox.deposit(usdc, 10_000 * UNIT, alice, {"from": alice})
    lockbox.depositNative(alice, {"from": alice, "value": 5 * 10**18})


def messages_for(alice, bob, usdc):
    return [
        (alice, bob, usdc.address, 100 * UNIT),
        (alice, alice, NATIVE_TOKEN, 10**18),
        (bob, bob, usdc.address, 7 * UNIT),
    ]


def test_batch_releases_every_message_and_advances_route(lockbox, usdc, funded, batches, alice, bob, relayer):
    messages = messages_for(alice, bob, usdc)
    usdc_before = usdc.balanceOf(bob)
    eth_before = alice.balance()

    tx = batches.process(messages, relayer)

    head = fold(ZERO_HEAD, 0, messages, withdrawal_leaf)
    assert tx.events["WithdrawalsProcessed"] == {"lastNonce": 3, "head": "0x" + head.hex(), "count": 3}
    released = [(e["nonce"], e["recipient"], e["token"], e["amount"]) for e in tx.events["Released"]]
    assert released == [(1, bob, usdc, 100 * UNIT), (2, alice, NATIVE_TOKEN, 10**18), (3, bob, usdc, 7 * UNIT)]
    assert "ReleaseParked" not in tx.events
    assert usdc.balanceOf(bob) == usdc_before + 107 * UNIT
    assert alice.balance() == eth_before + 10**18
    assert lockbox.custodied(usdc) == 10_000 * UNIT - 107 * UNIT
    assert lockbox.custodied(NATIVE_TOKEN) == 4 * 10**18
    assert route(lockbox.withdrawalRoute()) == (3, head)

    # the next batch continues from the stored head
    more = [(bob, alice, usdc.address, 1)]
    tx = batches.process(more, relayer)
    assert tx.events["Released"][0]["nonce"] == 4
    assert route(lockbox.withdrawalRoute()) == (4, fold(head, 3, more, withdrawal_leaf))


def test_replayed_batch_is_rejected(lockbox, usdc, funded, batches, alice, bob, relayer):
    msgs, checkpoint, sigs = batches.build(messages_for(alice, bob, usdc))
    lockbox.processWithdrawals(msgs, checkpoint, sigs, {"from": relayer})
    with reverts_with("BatchNonceMismatch", 3, 3, 3):
        lockbox.processWithdrawals(msgs, checkpoint, sigs, {"from": relayer})


def test_batch_with_a_gap_is_rejected(lockbox, usdc, funded, alice, bob, relayer, ledger):
    messages = messages_for(alice, bob, usdc)
    # a validly signed checkpoint at nonce 3, but the batch leaves out message 1
    head = fold(ZERO_HEAD, 0, messages, withdrawal_leaf)
    sigs = sign_checkpoint(SIGNERS, chain.id, lockbox, HUB_CHAIN_ID, ledger, 3, head)
    with reverts_with("BatchNonceMismatch", 0, 2, 3):
        lockbox.processWithdrawals(messages[1:], (HUB_CHAIN_ID, ledger, 3, head), sigs, {"from": relayer})


def test_overlapping_batch_is_rejected(lockbox, usdc, funded, batches, alice, bob, relayer, ledger):
    messages = messages_for(alice, bob, usdc)
    batches.process(messages[:2], relayer)
    # messages 2..3 again, under a valid checkpoint at nonce 3
    head = fold(ZERO_HEAD, 0, messages, withdrawal_leaf)
    sigs = sign_checkpoint(SIGNERS, chain.id, lockbox, HUB_CHAIN_ID, ledger, 3, head)
    with reverts_with("BatchNonceMismatch", 2, 2, 3):
        lockbox.processWithdrawals(messages[1:], (HUB_CHAIN_ID, ledger, 3, head), sigs, {"from": relayer})
    assert route(lockbox.withdrawalRoute())[0] == 2


@pytest.mark.parametrize("field", [1, 2, 3], ids=["recipient", "token", "amount"])
def test_tampered_message_is_rejected(lockbox, usdc, funded, batches, alice, bob, relayer, field):
    msgs, checkpoint, sigs = batches.build(messages_for(alice, bob, usdc))
    tampered = list(msgs[0])
    tampered[field] = {1: alice.address, 2: NATIVE_TOKEN, 3: 10_000 * UNIT}[field]
    forged = [tuple(tampered)] + msgs[1:]
    computed = fold(ZERO_HEAD, 0, forged, withdrawal_leaf)
    with reverts_with("BatchHeadMismatch", computed, checkpoint[3]):
        lockbox.processWithdrawals(forged, checkpoint, sigs, {"from": relayer})
    assert route(lockbox.withdrawalRoute()) == (0, ZERO_HEAD)


def test_under_signed_batch_is_rejected(lockbox, usdc, funded, batches, alice, bob, relayer):
    msgs, checkpoint, sigs = batches.build(messages_for(alice, bob, usdc), keys=VALIDATORS[:2])
    with reverts_with("CheckpointQuorumNotMet", 2, 3):
        lockbox.processWithdrawals(msgs, checkpoint, sigs, {"from": relayer})


def test_duplicate_signature_cannot_make_quorum(lockbox, usdc, funded, batches, alice, bob, relayer):
    msgs, checkpoint, sigs = batches.build(messages_for(alice, bob, usdc), keys=VALIDATORS[:2])
    with reverts_with("CheckpointSignersNotAscending"):
        lockbox.processWithdrawals(msgs, checkpoint, sigs + sigs[65:], {"from": relayer})


def test_signature_from_outside_the_set_is_rejected(lockbox, usdc, funded, batches, alice, bob, relayer):
    outsider = VALIDATOR_KEYS[6]
    msgs, checkpoint, sigs = batches.build(messages_for(alice, bob, usdc), keys=VALIDATORS[:2] + [outsider])
    with reverts_with("CheckpointSignerNotValidator"):
        lockbox.processWithdrawals(msgs, checkpoint, sigs, {"from": relayer})


def test_malformed_signature_blob_is_rejected(lockbox, usdc, funded, batches, alice, bob, relayer):
    msgs, checkpoint, sigs = batches.build(messages_for(alice, bob, usdc))
    with reverts_with("CheckpointSignaturesMalformed", len(sigs) - 1):
        lockbox.processWithdrawals(msgs, checkpoint, sigs[:-1], {"from": relayer})


def test_checkpoint_from_another_source_is_rejected(lockbox, usdc, funded, batches, alice, bob, relayer, ledger):
    # validators really signed it, but for a different source contract on the hub
    msgs, checkpoint, sigs = batches.build(messages_for(alice, bob, usdc), source=alice.address)
    with reverts_with("RouteSourceMismatch", ledger.address, alice.address):
        lockbox.processWithdrawals(msgs, checkpoint, sigs, {"from": relayer})


def test_checkpoint_from_another_chain_is_rejected(lockbox, usdc, funded, batches, alice, bob, relayer):
    msgs, checkpoint, sigs = batches.build(messages_for(alice, bob, usdc), source_chain_id=HUB_CHAIN_ID + 1)
    with reverts_with("RouteUnknown", HUB_CHAIN_ID + 1):
        lockbox.processWithdrawals(msgs, checkpoint, sigs, {"from": relayer})


def test_checkpoint_signed_for_another_lockbox_is_rejected(
    Lockbox, lockbox, usdc, funded, batches, admin, guardian, ledger, alice, bob, relayer
):
    twin = deploy_lockbox(Lockbox, admin, guardian, ledger)  # same validators, same route state
    msgs, checkpoint, sigs = batches.build(messages_for(alice, bob, usdc), dest=twin.address)
    with reverts_with("CheckpointSignerNotValidator"):
        lockbox.processWithdrawals(msgs, checkpoint, sigs, {"from": relayer})


def test_checkpoint_signed_for_another_destination_chain_is_rejected(
    lockbox, usdc, funded, alice, bob, relayer, ledger
):
    messages = messages_for(alice, bob, usdc)
    head = fold(ZERO_HEAD, 0, messages, withdrawal_leaf)
    sigs = sign_checkpoint(SIGNERS, chain.id + 1, lockbox, HUB_CHAIN_ID, ledger, 3, head)
    with reverts_with("CheckpointSignerNotValidator"):
        lockbox.processWithdrawals(messages, (HUB_CHAIN_ID, ledger, 3, head), sigs, {"from": relayer})


def test_empty_batch_is_rejected(lockbox, batches, relayer, ledger):
    sigs = sign_checkpoint(SIGNERS, chain.id, lockbox, HUB_CHAIN_ID, ledger, 0, ZERO_HEAD)
    with reverts_with("BatchEmpty"):
        lockbox.processWithdrawals([], (HUB_CHAIN_ID, ledger, 0, ZERO_HEAD), sigs, {"from": relayer})


def test_rotated_out_validators_cannot_sign(lockbox, usdc, funded, batches, admin, alice, bob, relayer):
    from checkpoints import addresses

    lockbox.setValidators(HUB_CHAIN_ID, addresses(VALIDATOR_KEYS[3:7]), 3, {"from": admin})
    msgs, checkpoint, sigs = batches.build(messages_for(alice, bob, usdc), keys=VALIDATORS[:3])
    with reverts_with("CheckpointSignerNotValidator"):
        lockbox.processWithdrawals(msgs, checkpoint, sigs, {"from": relayer})
    batches.process(messages_for(alice, bob, usdc), relayer, keys=VALIDATOR_KEYS[4:7])
    assert route(lockbox.withdrawalRoute())[0] == 3


def test_paused_releases_reject_batches_until_unpaused(lockbox, usdc, funded, batches, guardian, alice, bob, relayer):
    msgs, checkpoint, sigs = batches.build(messages_for(alice, bob, usdc))
    tx = lockbox.pauseReleases({"from": guardian})
    assert tx.events["ReleasesPauseSet"] == {"guardian": guardian, "paused": True}
    assert lockbox.paused() == (False, True)
    with reverts_with("ReleasesPaused"):
        lockbox.processWithdrawals(msgs, checkpoint, sigs, {"from": relayer})
    lockbox.deposit(usdc, 1, alice, {"from": alice})  # deposits are paused separately

    lockbox.unpauseReleases({"from": guardian})
    lockbox.processWithdrawals(msgs, checkpoint, sigs, {"from": relayer})
    assert route(lockbox.withdrawalRoute())[0] == 3


def test_recipient_zero_is_parked_not_burnt(lockbox, usdc, funded, batches, alice, relayer):
    tx = batches.process([(alice, ZERO_ADDRESS, usdc.address, UNIT)], relayer)
    assert tx.events["ReleaseParked"] == {"nonce": 1, "reason": 2}
    assert lockbox.custodied(usdc) == 10_000 * UNIT
    with reverts_with("ReleaseRecipientInvalid", ZERO_ADDRESS):
        lockbox.retryRelease(1, {"from": relayer})
    tx = batches.process([recovery(alice, 1, lockbox.address)], relayer)
    assert tx.events["ReleaseRecoveryRejected"] == {"recoveryNonce": 2, "target": 1, "reason": 3}
    batches.process([recovery(alice, 1, alice.address)], relayer)
    assert lockbox.pendingRelease(1)[1] == 0
