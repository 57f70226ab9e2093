"""Validator sets of the shared QuorumVerifier (one QuorumSet contract per set, members sorted ascending):
governance input checks, the views, rotations and the member/signer merge at its edges."""

import brownie
import pytest
from eth_account import Account
from eth_utils import keccak
from ledger_support import (
    SPOKE_A,
    SPOKE_B,
    THRESHOLD,
    USDC_A,
    VALIDATORS,
    VALIDATOR_KEYS,
    addresses,
    assert_reverts,
    error,
    plain,
    revert_data,
    signed_batch,
)

MAX_VALIDATORS = 255
ZERO = "0x0000000000000000000000000000000000000000"


@pytest.fixture
def msgs(alice):
    return [(alice, alice, USDC_A, 1)]


def _by_address(keys):
    """`keys` sorted by their address (the order members are stored and signers must come in)."""
    return sorted(keys, key=lambda k: int(Account.from_key(k).address, 16))


def _signer(key):
    return Account.from_key(key).address


def _sorted_addresses(keys):
    return [_signer(k) for k in _by_address(keys)]


def _process(ledger, relayer, lockbox_a, msgs, keys):
    return ledger.processDeposits(*signed_batch(ledger, SPOKE_A, lockbox_a, msgs, keys=keys), {"from": relayer})


def _assert_signer_rejected(ledger, relayer, lockbox_a, msgs, keys, rejected_key):
    messages, checkpoint, sigs = signed_batch(ledger, SPOKE_A, lockbox_a, msgs, keys=keys)
    assert_reverts(
        error("CheckpointSignerNotValidator(address)", _signer(rejected_key)),
        ledger.processDeposits,
        messages,
        checkpoint,
        sigs,
        sender=relayer,
    )


# ----------------------------------------------------------------------------- governance input


@pytest.mark.parametrize(
    "members, threshold",
    [
        ([], 1),  # empty
        (VALIDATOR_KEYS[:3], 0),  # threshold 0
        (VALIDATOR_KEYS[:3], 4),  # threshold above the size
    ],
    ids=["empty", "threshold-zero", "threshold-above-size"],
)
def test_set_with_bad_size_or_threshold_rejected(ledger, gov, members, threshold):
    assert_reverts(
        error("ValidatorSetInvalid(uint256,uint256)", len(members), threshold),
        ledger.setValidators,
        SPOKE_A,
        addresses(members),
        threshold,
        sender=gov,
    )


@pytest.mark.parametrize("position", [0, 2, 4])
def test_zero_address_rejected_wherever_it_is(ledger, gov, position):
    members = addresses(VALIDATOR_KEYS[:4])
    members.insert(position, ZERO)
    assert_reverts(
        error("ValidatorSetInvalid(uint256,uint256)", 5, 2), ledger.setValidators, SPOKE_A, members, 2, sender=gov
    )


def test_duplicate_rejected_even_when_not_adjacent(ledger, gov):
    members = addresses(VALIDATOR_KEYS[:4]) + addresses(VALIDATOR_KEYS[:1])  # first repeated last
    assert_reverts(
        error("ValidatorSetInvalid(uint256,uint256)", 5, 3), ledger.setValidators, SPOKE_A, members, 3, sender=gov
    )


def test_set_above_maximum_size_rejected(ledger, gov):
    assert ledger.MAX_VALIDATORS() == MAX_VALIDATORS
    members = [brownie.web3.to_checksum_address(keccak(text=f"too-many-{i}")[-20:]) for i in range(256)]
    assert_reverts(
        error("ValidatorSetInvalid(uint256,uint256)", 256, 3), ledger.setValidators, SPOKE_A, members, 3, sender=gov
    )


def test_rejected_set_leaves_the_current_one(ledger, gov, relayer, lockbox_a, msgs):
    with brownie.reverts():
        ledger.setValidators(SPOKE_A, addresses(VALIDATOR_KEYS[:2]) + [ZERO], 2, {"from": gov})
    assert ledger.validatorsOf(SPOKE_A) == _sorted_addresses(VALIDATORS)
    _process(ledger, relayer, lockbox_a, msgs, VALIDATORS[:THRESHOLD])


# ----------------------------------------------------------------------------- views and events


def test_views_list_the_set_sorted_and_event_carries_it_as_given(ledger, gov):
    given = addresses(VALIDATOR_KEYS[6:1:-1])  # some order other than ascending
    tx = ledger.setValidators(SPOKE_A, given, 4, {"from": gov})
    event = tx.events["ValidatorSetUpdated"]
    assert plain(event["validators"]) == given
    assert (event["sourceChainId"], event["threshold"], event["version"]) == (SPOKE_A, 4, 2)
    assert plain(ledger.validatorsOf(SPOKE_A)) == sorted(given, key=lambda a: int(a, 16))
    assert ledger.thresholdOf(SPOKE_A) == 4
    for key in VALIDATOR_KEYS:
        assert ledger.isValidator(SPOKE_A, _signer(key)) == (_signer(key) in given)


def test_unset_chain_has_an_empty_set(ledger):
    assert plain(ledger.validatorsOf(424242)) == []
    assert ledger.thresholdOf(424242) == 0
    assert not ledger.isValidator(424242, _signer(VALIDATOR_KEYS[0]))
    assert not ledger.isValidator(424242, ZERO)


# ----------------------------------------------------------------------------- rotations


def test_rotation_reusing_addresses_keeps_them_and_drops_the_rest(ledger, gov, relayer, lockbox_a, msgs):
    old = VALIDATOR_KEYS[:5]
    new = VALIDATOR_KEYS[3:7]  # keeps 3 and 4, drops 0-2, adds 5 and 6
    ledger.setValidators(SPOKE_A, addresses(new), 3, {"from": gov})

    for dropped in old[:3]:
        keys = [dropped] + VALIDATOR_KEYS[3:5]
        _assert_signer_rejected(ledger, relayer, lockbox_a, msgs, keys, dropped)
    _process(ledger, relayer, lockbox_a, msgs, [VALIDATOR_KEYS[3], VALIDATOR_KEYS[4], VALIDATOR_KEYS[6]])
    assert ledger.depositRoute(SPOKE_A)[0] == 1


def test_rotation_back_to_an_earlier_set_restores_it(ledger, gov, relayer, lockbox_a, msgs, alice):
    ledger.setValidators(SPOKE_A, addresses(VALIDATOR_KEYS[5:7]), 2, {"from": gov})
    _assert_signer_rejected(ledger, relayer, lockbox_a, msgs, VALIDATOR_KEYS[:2], _by_address(VALIDATOR_KEYS[:2])[0])
    tx = ledger.setValidators(SPOKE_A, addresses(VALIDATORS), THRESHOLD, {"from": gov})
    assert tx.events["ValidatorSetUpdated"]["version"] == 3
    _process(ledger, relayer, lockbox_a, msgs, VALIDATOR_KEYS[:3])
    # ...and the set in between no longer counts.
    later = [(alice, alice, msgs[0][2], 2)]
    keys = VALIDATOR_KEYS[5:7] + [VALIDATOR_KEYS[0]]
    rejected = next(k for k in _by_address(keys) if k in VALIDATOR_KEYS[5:7])
    _assert_signer_rejected(ledger, relayer, lockbox_a, later, keys, rejected)


def test_other_chains_set_does_not_count(ledger, gov, relayer, lockbox_a, msgs):
    ledger.setValidators(SPOKE_B, addresses(VALIDATOR_KEYS[5:7]), 2, {"from": gov})
    keys = VALIDATOR_KEYS[5:7] + [VALIDATOR_KEYS[0]]
    rejected = next(k for k in _by_address(keys) if k in VALIDATOR_KEYS[5:7])
    _assert_signer_rejected(ledger, relayer, lockbox_a, msgs, keys, rejected)


# ----------------------------------------------------------------------------- merge edges


def test_outsider_below_and_above_every_member_rejected(ledger, gov, relayer, lockbox_a, msgs):
    ordered = _by_address(VALIDATOR_KEYS)  # 7 keys: the middle 5 form the set
    lowest, middle, highest = ordered[0], ordered[1:6], ordered[6]
    ledger.setValidators(SPOKE_A, addresses(middle), 2, {"from": gov})
    _assert_signer_rejected(ledger, relayer, lockbox_a, msgs, [lowest] + middle[:2], lowest)
    _assert_signer_rejected(ledger, relayer, lockbox_a, msgs, middle[-2:] + [highest], highest)
    _assert_signer_rejected(ledger, relayer, lockbox_a, msgs, [middle[0], middle[4], highest], highest)
    _process(ledger, relayer, lockbox_a, msgs, [middle[0], middle[4]])  # first and last member


def test_single_member_set(ledger, gov, relayer, lockbox_a, msgs):
    ledger.setValidators(SPOKE_A, addresses(VALIDATOR_KEYS[6:7]), 1, {"from": gov})
    _assert_signer_rejected(ledger, relayer, lockbox_a, msgs, VALIDATOR_KEYS[:1], VALIDATOR_KEYS[0])
    _process(ledger, relayer, lockbox_a, msgs, VALIDATOR_KEYS[6:7])


def _transact(contract_fn, *args, sender):
    """Sends a large transaction with web3 and polls for its receipt with a deadline (brownie can
    report a slow anvil transaction as dropped); the receipt, which must show success."""
    tx = {"to": contract_fn._address, "from": str(sender), "data": contract_fn.encode_input(*args)}
    receipt = brownie.web3.eth.wait_for_transaction_receipt(brownie.web3.eth.send_transaction(tx), timeout=60)
    assert receipt["status"] == 1
    return receipt


def test_maximum_size_set_with_every_member_signing(ledger, gov, relayer, lockbox_a, msgs):
    keys = [keccak(text=f"xmargin-test-max-set-{i}") for i in range(MAX_VALIDATORS)]
    receipt = _transact(ledger.setValidators, SPOKE_A, addresses(keys), MAX_VALIDATORS, sender=gov)
    print(f"\nsetValidators with {MAX_VALIDATORS} members: {receipt['gasUsed']} gas")
    assert plain(ledger.validatorsOf(SPOKE_A)) == _sorted_addresses(keys)

    ordered = _by_address(keys)
    outsider = VALIDATOR_KEYS[0]
    for signers, expected in [
        (ordered[:-1], error("CheckpointQuorumNotMet(uint256,uint256)", MAX_VALIDATORS - 1, MAX_VALIDATORS)),
        (ordered[:-1] + [outsider], error("CheckpointSignerNotValidator(address)", _signer(outsider))),
    ]:
        batch = signed_batch(ledger, SPOKE_A, lockbox_a, msgs, keys=signers)
        assert revert_data(ledger.processDeposits, batch, relayer).hex() == expected.hex()

    receipt = _transact(ledger.processDeposits, *signed_batch(ledger, SPOKE_A, lockbox_a, msgs, keys=keys), sender=relayer)
    print(f"a batch of one with {MAX_VALIDATORS} signatures: {receipt['gasUsed']} gas")
    assert ledger.depositRoute(SPOKE_A)[0] == 1
