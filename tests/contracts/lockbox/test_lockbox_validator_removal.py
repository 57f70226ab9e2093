"""The guardian removes one hub validator from a lockbox's set at once (issue 9; the same
QuorumVerifier code as the ledger): a batch the removed key helped sign is refused from then on."""

from eth_account import Account

from lockbox_support import GUARDIAN_ROLE, HUB_CHAIN_ID, SIGNERS, THRESHOLD, UNIT, VALIDATORS, reverts_with


def test_guardian_removal_refuses_batches_the_removed_key_signed(lockbox, usdc, batches, guardian, alice, bob, relayer):
    lockbox.deposit(usdc, 100 * UNIT, alice, {"from": alice})
    removed = Account.from_key(SIGNERS[0]).address
    stale = batches.build([(alice, bob.address, usdc.address, UNIT)])  # signed by SIGNERS, before the removal
    tx = lockbox.removeValidator(HUB_CHAIN_ID, removed, {"from": guardian})
    assert tx.events["ValidatorRemoved"]["validator"] == removed
    assert lockbox.thresholdOf(HUB_CHAIN_ID) == THRESHOLD and not lockbox.isValidator(HUB_CHAIN_ID, removed)
    with reverts_with("CheckpointSignerNotValidator", removed):
        lockbox.processWithdrawals(*stale, {"from": relayer})
    batches.process([(alice, bob.address, usdc.address, UNIT)], relayer, keys=VALIDATORS[1:4])
    assert lockbox.withdrawalRoute()[0] == 1


def test_removal_is_the_guardians_alone(lockbox, admin, alice):
    for caller in (admin, alice):
        with reverts_with("AccessControlUnauthorizedAccount", caller.address, GUARDIAN_ROLE):
            lockbox.removeValidator(HUB_CHAIN_ID, Account.from_key(SIGNERS[0]).address, {"from": caller})
