"""Every way a deposit batch can be wrong is rejected before any effect, with the protocol's
custom error (docs/protocol.md, check order: empty, route, source, nonce, head, quorum)."""

import brownie
import pytest
from eth_account import Account
from ledger_support import (
    OUTSIDER_KEY,
    SPOKE_A,
    SPOKE_B,
    THRESHOLD,
    USDC,
    USDC_A,
    VALIDATORS,
    VALIDATOR_KEYS,
    WETH_A,
    addresses,
    assert_reverts,
    deposit_head,
    error,
    plain,
    signed_batch,
)

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@pytest.fixture
def msgs(alice, bob):
    return [(alice, alice, USDC_A, 1_000), (bob, bob, WETH_A, 2)]


def _route(ledger):
    return plain(ledger.depositRoute(SPOKE_A))


def _sigs(blob):
    return [blob[i : i + 65] for i in range(0, len(blob), 65)]


def _signer(key):
    return Account.from_key(key).address


def test_valid_batch_is_accepted(ledger, relayer, lockbox_a, msgs):
    ledger.processDeposits(*signed_batch(ledger, SPOKE_A, lockbox_a, msgs), {"from": relayer})
    assert _route(ledger)[0] == 2


def test_all_five_signatures_are_accepted(ledger, relayer, lockbox_a, msgs):
    ledger.processDeposits(*signed_batch(ledger, SPOKE_A, lockbox_a, msgs, keys=VALIDATORS), {"from": relayer})
    assert _route(ledger)[0] == 2


def test_empty_batch_rejected(ledger, relayer, lockbox_a):
    _, checkpoint, sigs = signed_batch(ledger, SPOKE_A, lockbox_a, [])
    assert_reverts(error("BatchEmpty()"), ledger.processDeposits, [], checkpoint, sigs, sender=relayer)


def test_unknown_route_rejected(ledger, relayer, lockbox_a, msgs):
    messages, checkpoint, sigs = signed_batch(ledger, 424242, lockbox_a, msgs)
    assert_reverts(error("RouteUnknown(uint64)", 424242), ledger.processDeposits, messages, checkpoint, sigs, sender=relayer)


def test_wrong_source_rejected(ledger, relayer, lockbox_a, stranger, msgs):
    messages, checkpoint, sigs = signed_batch(ledger, SPOKE_A, stranger, msgs)
    assert_reverts(
        error("RouteSourceMismatch(address,address)", str(lockbox_a), str(stranger)),
        ledger.processDeposits,
        messages,
        checkpoint,
        sigs,
        sender=relayer,
    )


def test_other_spokes_lockbox_rejected(ledger, relayer, lockbox_a, lockbox_b, msgs):
    messages, checkpoint, sigs = signed_batch(ledger, SPOKE_B, lockbox_a, msgs)
    assert_reverts(
        error("RouteSourceMismatch(address,address)", str(lockbox_b), str(lockbox_a)),
        ledger.processDeposits,
        messages,
        checkpoint,
        sigs,
        sender=relayer,
    )


def test_replayed_batch_rejected(ledger, relayer, lockbox_a, msgs):
    batch = signed_batch(ledger, SPOKE_A, lockbox_a, msgs)
    ledger.processDeposits(*batch, {"from": relayer})
    before = _route(ledger)
    assert_reverts(error("BatchNonceMismatch(uint64,uint256,uint64)", 2, 2, 2), ledger.processDeposits, *batch, sender=relayer)
    assert _route(ledger) == before


def test_gap_rejected(ledger, relayer, lockbox_a, msgs, alice):
    # Messages 2..3 offered while nothing is processed: message 1 would be skipped.
    skipped = (alice, alice, USDC_A, 5)
    head = deposit_head(ledger, SPOKE_A, [skipped] + msgs)
    messages, checkpoint, sigs = signed_batch(ledger, SPOKE_A, lockbox_a, msgs, nonce=3, head=head)
    assert_reverts(
        error("BatchNonceMismatch(uint64,uint256,uint64)", 0, 2, 3),
        ledger.processDeposits,
        messages,
        checkpoint,
        sigs,
        sender=relayer,
    )


def test_overlap_rejected(ledger, relayer, lockbox_a, msgs, alice):
    ledger.processDeposits(*signed_batch(ledger, SPOKE_A, lockbox_a, msgs[:1]), {"from": relayer})
    # Messages 1..2 offered again with checkpoint 2 while 1 is already processed.
    head = deposit_head(ledger, SPOKE_A, msgs, processed=0, head=bytes(32))
    messages, checkpoint, sigs = signed_batch(ledger, SPOKE_A, lockbox_a, msgs, nonce=2, head=head)
    assert_reverts(
        error("BatchNonceMismatch(uint64,uint256,uint64)", 1, 2, 2),
        ledger.processDeposits,
        messages,
        checkpoint,
        sigs,
        sender=relayer,
    )
    assert ledger.balanceOf(msgs[0][1], USDC) == 1_000 * 10**12  # credited once only


@pytest.mark.parametrize("field", [1, 2, 3], ids=["account", "token", "amount"])
def test_tampered_message_rejected(ledger, relayer, lockbox_a, msgs, stranger, field):
    messages, checkpoint, sigs = signed_batch(ledger, SPOKE_A, lockbox_a, msgs)
    tampered = list(messages[0])
    tampered[field] = 999_999 if field == 3 else str(stranger)
    forged = [tuple(tampered), messages[1]]
    computed = deposit_head(ledger, SPOKE_A, forged)
    assert_reverts(
        error("BatchHeadMismatch(bytes32,bytes32)", computed, checkpoint[3]),
        ledger.processDeposits,
        forged,
        checkpoint,
        sigs,
        sender=relayer,
    )


def test_tampered_depositor_rejected(ledger, relayer, lockbox_a, msgs, stranger):
    messages, checkpoint, sigs = signed_batch(ledger, SPOKE_A, lockbox_a, msgs)
    forged = [(str(stranger),) + tuple(messages[0][1:]), messages[1]]
    computed = deposit_head(ledger, SPOKE_A, forged)
    assert_reverts(
        error("BatchHeadMismatch(bytes32,bytes32)", computed, checkpoint[3]),
        ledger.processDeposits,
        forged,
        checkpoint,
        sigs,
        sender=relayer,
    )


def test_reordered_messages_rejected(ledger, relayer, lockbox_a, msgs):
    messages, checkpoint, sigs = signed_batch(ledger, SPOKE_A, lockbox_a, msgs)
    swapped = [messages[1], messages[0]]
    computed = deposit_head(ledger, SPOKE_A, swapped)
    assert_reverts(
        error("BatchHeadMismatch(bytes32,bytes32)", computed, checkpoint[3]),
        ledger.processDeposits,
        swapped,
        checkpoint,
        sigs,
        sender=relayer,
    )


def test_signer_outside_set_rejected(ledger, relayer, lockbox_a, msgs):
    keys = VALIDATORS[:2] + [OUTSIDER_KEY]
    messages, checkpoint, sigs = signed_batch(ledger, SPOKE_A, lockbox_a, msgs, keys=keys)
    assert_reverts(
        error("CheckpointSignerNotValidator(address)", _signer(OUTSIDER_KEY)),
        ledger.processDeposits,
        messages,
        checkpoint,
        sigs,
        sender=relayer,
    )


def test_below_threshold_rejected(ledger, relayer, lockbox_a, msgs):
    messages, checkpoint, sigs = signed_batch(ledger, SPOKE_A, lockbox_a, msgs, keys=VALIDATORS[:2])
    assert_reverts(
        error("CheckpointQuorumNotMet(uint256,uint256)", 2, THRESHOLD),
        ledger.processDeposits,
        messages,
        checkpoint,
        sigs,
        sender=relayer,
    )


def test_duplicate_signer_rejected(ledger, relayer, lockbox_a, msgs):
    messages, checkpoint, sigs = signed_batch(ledger, SPOKE_A, lockbox_a, msgs)
    parts = _sigs(sigs)
    duplicated = parts[0] + parts[1] + parts[1]
    first, second = sorted(addresses(VALIDATORS[:3]), key=lambda a: a.lower())[:2]
    assert_reverts(
        error("CheckpointSignersNotAscending(address,address)", second, second),
        ledger.processDeposits,
        messages,
        checkpoint,
        duplicated,
        sender=relayer,
    )


def test_unsorted_signers_rejected(ledger, relayer, lockbox_a, msgs):
    messages, checkpoint, sigs = signed_batch(ledger, SPOKE_A, lockbox_a, msgs)
    parts = _sigs(sigs)
    order = sorted(addresses(VALIDATORS[:3]), key=lambda a: a.lower())
    unsorted = parts[1] + parts[0] + parts[2]
    assert_reverts(
        error("CheckpointSignersNotAscending(address,address)", order[1], order[0]),
        ledger.processDeposits,
        messages,
        checkpoint,
        unsorted,
        sender=relayer,
    )


def _first_recovered(ledger, checkpoint, sigs):
    digest = bytes(ledger.checkpointDigest(checkpoint))
    return Account._recover_hash(digest, signature=_sigs(sigs)[0])


def test_checkpoint_signed_for_another_ledger_rejected(ledger, relayer, lockbox_a, msgs, stranger):
    messages, checkpoint, sigs = signed_batch(ledger, SPOKE_A, lockbox_a, msgs, dest=str(stranger))
    signer = _first_recovered(ledger, checkpoint, sigs)
    assert signer not in addresses(VALIDATORS)
    assert_reverts(
        error("CheckpointSignerNotValidator(address)", signer),
        ledger.processDeposits,
        messages,
        checkpoint,
        sigs,
        sender=relayer,
    )


def test_checkpoint_signed_for_another_chain_rejected(ledger, relayer, lockbox_a, msgs):
    messages, checkpoint, sigs = signed_batch(ledger, SPOKE_A, lockbox_a, msgs, dest_chain=brownie.chain.id + 1)
    signer = _first_recovered(ledger, checkpoint, sigs)
    assert signer not in addresses(VALIDATORS)
    assert_reverts(
        error("CheckpointSignerNotValidator(address)", signer),
        ledger.processDeposits,
        messages,
        checkpoint,
        sigs,
        sender=relayer,
    )


def test_malformed_signature_blob_rejected(ledger, relayer, lockbox_a, msgs):
    messages, checkpoint, sigs = signed_batch(ledger, SPOKE_A, lockbox_a, msgs)
    assert_reverts(
        error("CheckpointSignaturesMalformed(uint256)", len(sigs) - 1),
        ledger.processDeposits,
        messages,
        checkpoint,
        sigs[:-1],
        sender=relayer,
    )


def test_high_s_signature_rejected(ledger, relayer, lockbox_a, msgs):
    messages, checkpoint, sigs = signed_batch(ledger, SPOKE_A, lockbox_a, msgs)
    parts = _sigs(sigs)
    r, s, v = parts[1][:32], int.from_bytes(parts[1][32:64], "big"), parts[1][64]
    malleable = r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])  # same signer, high s
    assert_reverts(
        error("CheckpointSignatureInvalid(uint256)", 1),
        ledger.processDeposits,
        messages,
        checkpoint,
        parts[0] + malleable + parts[2],
        sender=relayer,
    )


def test_bad_v_rejected(ledger, relayer, lockbox_a, msgs):
    messages, checkpoint, sigs = signed_batch(ledger, SPOKE_A, lockbox_a, msgs)
    parts = _sigs(sigs)
    assert_reverts(
        error("CheckpointSignatureInvalid(uint256)", 2),
        ledger.processDeposits,
        messages,
        checkpoint,
        parts[0] + parts[1] + parts[2][:64] + bytes([29]),
        sender=relayer,
    )


def test_route_without_validator_set_rejected(ledger, gov, relayer, stranger, msgs):
    ledger.registerSpoke(31340, stranger, {"from": gov})
    messages, checkpoint, sigs = signed_batch(ledger, 31340, stranger, msgs)
    assert_reverts(
        error("CheckpointQuorumNotMet(uint256,uint256)", 3, 0),
        ledger.processDeposits,
        messages,
        checkpoint,
        sigs,
        sender=relayer,
    )


def test_validator_rotation_rejects_old_signer(ledger, gov, relayer, lockbox_a, msgs):
    new_set = VALIDATOR_KEYS[2:7]  # drops validators 0 and 1, adds 5 and 6
    ledger.setValidators(SPOKE_A, addresses(new_set), THRESHOLD, {"from": gov})

    old = [VALIDATOR_KEYS[0], VALIDATOR_KEYS[2], VALIDATOR_KEYS[3]]
    messages, checkpoint, sigs = signed_batch(ledger, SPOKE_A, lockbox_a, msgs, keys=old)
    assert_reverts(
        error("CheckpointSignerNotValidator(address)", _signer(VALIDATOR_KEYS[0])),
        ledger.processDeposits,
        messages,
        checkpoint,
        sigs,
        sender=relayer,
    )
    assert not ledger.isValidator(SPOKE_A, _signer(VALIDATOR_KEYS[0]))

    ledger.processDeposits(*signed_batch(ledger, SPOKE_A, lockbox_a, msgs, keys=new_set[2:]), {"from": relayer})
    assert _route(ledger)[0] == 2


def test_rotation_on_one_spoke_leaves_the_other(ledger, gov, relayer, lockbox_b, msgs):
    ledger.setValidators(SPOKE_A, addresses(VALIDATOR_KEYS[4:7]), 2, {"from": gov})
    ledger.processDeposits(*signed_batch(ledger, SPOKE_B, lockbox_b, msgs), {"from": relayer})
    assert plain(ledger.depositRoute(SPOKE_B))[0] == 2


def test_nonce_checked_before_head_and_signatures(ledger, relayer, lockbox_a, msgs):
    # A replayed nonce with garbage signatures still reports the nonce (check order).
    messages, checkpoint, _ = signed_batch(ledger, SPOKE_A, lockbox_a, msgs, nonce=5)
    assert_reverts(
        error("BatchNonceMismatch(uint64,uint256,uint64)", 0, 2, 5),
        ledger.processDeposits,
        messages,
        checkpoint,
        b"\x01" * 7,
        sender=relayer,
    )


def test_head_checked_before_signatures(ledger, relayer, lockbox_a, msgs):
    messages, checkpoint, _ = signed_batch(ledger, SPOKE_A, lockbox_a, msgs, head=b"\x11" * 32)
    computed = deposit_head(ledger, SPOKE_A, msgs)
    assert_reverts(
        error("BatchHeadMismatch(bytes32,bytes32)", computed, b"\x11" * 32),
        ledger.processDeposits,
        messages,
        checkpoint,
        b"",
        sender=relayer,
    )
