"""Fixtures for the Lockbox tests: one lockbox on the brownie chain, a hub route signed by
3 of 5 test validators, listed test tokens, and a helper that builds signed withdrawal batches."""

import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
from brownie import chain
from brownie.exceptions import VirtualMachineError
from eth_utils import keccak

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from checkpoints import (  # noqa: E402
    NATIVE_TOKEN,
    VALIDATOR_KEYS,
    addresses,
    fold,
    sign_checkpoint,
    withdrawal_leaf,
)

HUB_CHAIN_ID = 7777  # deliberately not the brownie chain's id, so the two cannot be confused
THRESHOLD = 3
VALIDATORS = VALIDATOR_KEYS[:5]
SIGNERS = VALIDATORS[:THRESHOLD]
GOVERNOR_ROLE = keccak(text="GOVERNOR_ROLE")
GUARDIAN_ROLE = keccak(text="GUARDIAN_ROLE")
ZERO = "0x0000000000000000000000000000000000000000"
UNIT = 10**6  # the test stablecoin has 6 decimals
RECOVERY_MARKER = "0x3e471713Ba29bf8523714805800AbED4E99511Aa"  # libraries/RecoveryMessage.sol


def recovery(account, target, new_recipient=ZERO):
    """A recovery message as the hub ledger queues it: redirect release `target` to
    `new_recipient`, or refund it to `account`'s hub balance when that is zero."""
    return (str(account), str(new_recipient), RECOVERY_MARKER, target)


def _format_arg(value):
    """An error argument as brownie prints a decoded custom error (bytes raw, addresses lower)."""
    if isinstance(value, (bytes, bytearray)):
        return str(bytes(value))
    if isinstance(value, str) or hasattr(value, "address"):
        return str(value).lower()
    return str(value)


@contextmanager
def reverts_with(error, *args):
    """Expects a revert with custom error `error` (and, if given, exactly these arguments)."""
    try:
        yield
    except VirtualMachineError as exc:
        message = exc.revert_msg or ""
        assert message.partition(":")[0] == error, f"reverted with {message!r}, expected {error}"
        if args:
            expected = f"{error}: {', '.join(_format_arg(a) for a in args)}"
            assert message.lower() == expected.lower(), f"{message!r} != {expected!r}"
    else:
        raise AssertionError(f"expected revert {error}")


class WithdrawalBatches:
    """Builds signed withdrawal batches that continue the lockbox's withdrawal route."""

    def __init__(self, lockbox, ledger):
        self.lockbox = lockbox
        self.ledger = ledger

    def build(self, messages, keys=SIGNERS, source=None, source_chain_id=HUB_CHAIN_ID, dest=None):
        """(messages, checkpoint, signatures) for `messages` after the lockbox's stored route."""
        processed, head = self.lockbox.withdrawalRoute()
        source = source or self.ledger.address
        new_head = fold(bytes(head), processed, messages, withdrawal_leaf)
        nonce = processed + len(messages)
        sigs = sign_checkpoint(
            keys, chain.id, dest or self.lockbox.address, source_chain_id, source, nonce, new_head
        )
        return [tuple(m) for m in messages], (source_chain_id, source, nonce, new_head), sigs

    def process(self, messages, sender, **kwargs):
        """Builds, signs and submits a batch; returns the transaction."""
        msgs, checkpoint, sigs = self.build(messages, **kwargs)
        return self.lockbox.processWithdrawals(msgs, checkpoint, sigs, {"from": sender})


@pytest.fixture(autouse=True)
def isolation(fn_isolation):
    pass


@pytest.fixture(scope="module")
def admin(accounts):
    return accounts[0]


@pytest.fixture(scope="module")
def guardian(accounts):
    return accounts[1]


@pytest.fixture(scope="module")
def alice(accounts):
    return accounts[2]


@pytest.fixture(scope="module")
def bob(accounts):
    return accounts[3]


@pytest.fixture(scope="module")
def relayer(accounts):
    return accounts[4]


@pytest.fixture(scope="module")
def ledger(accounts):
    """Stands in for the hub MarginLedger: the withdrawal route's source address."""
    return accounts[9]


def deploy_lockbox(Lockbox, admin, guardian, ledger):
    lockbox = Lockbox.deploy(HUB_CHAIN_ID, ledger, admin, {"from": admin})
    lockbox.setValidators(HUB_CHAIN_ID, addresses(VALIDATORS), THRESHOLD, {"from": admin})
    lockbox.grantRole(GUARDIAN_ROLE, guardian, {"from": admin})
    return lockbox


@pytest.fixture(scope="module")
def lockbox(Lockbox, admin, guardian, ledger):
    return deploy_lockbox(Lockbox, admin, guardian, ledger)


@pytest.fixture(scope="module")
def usdc(MockERC20, lockbox, admin, alice, bob):
    token = MockERC20.deploy("USD Coin", "USDC", 6, {"from": admin})
    lockbox.listToken(token, {"from": admin})
    for user in (alice, bob):
        token.mint(user, 1_000_000 * UNIT, {"from": user})
        token.approve(lockbox, 2**256 - 1, {"from": user})
    return token


@pytest.fixture
def native_listed(lockbox, admin):
    lockbox.listToken(NATIVE_TOKEN, {"from": admin})
    return NATIVE_TOKEN


@pytest.fixture(scope="module")
def batches(lockbox, ledger):
    return WithdrawalBatches(lockbox, ledger)


def route(view):
    """A route view's (nonce, head) as (int, bytes)."""
    nonce, head = view
    return int(nonce), bytes(head)


def fund(lockbox, token, depositor, amount, account=None):
    """Deposits `amount` so that the lockbox holds (and has booked) it."""
    return lockbox.deposit(token, amount, account or depositor, {"from": depositor})
