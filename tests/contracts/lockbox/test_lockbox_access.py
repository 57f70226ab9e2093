"""Access control on every privileged Lockbox function."""

import pytest
from lockbox_support import GOVERNOR_ROLE, GUARDIAN_ROLE, HUB_CHAIN_ID, reverts_with

from checkpoints import VALIDATOR_KEYS, addresses

DEFAULT_ADMIN_ROLE = bytes(32)

GOVERNED = {
    "listToken": lambda lb, token: lb.listToken.encode_input(lb.address),  # any contract
    "delistToken": lambda lb, token: lb.delistToken.encode_input(token),
    "setRateLimit": lambda lb, token: lb.setRateLimit.encode_input(token, 1, 1),
    "setValidators": lambda lb, token: lb.setValidators.encode_input(
        HUB_CHAIN_ID, addresses(VALIDATOR_KEYS[:3]), 2
    ),
}
GUARDED = ["pauseDeposits", "unpauseDeposits", "pauseReleases", "unpauseReleases"]


def test_admin_holds_admin_and_governor_roles_only(lockbox, admin, guardian):
    assert lockbox.hasRole(DEFAULT_ADMIN_ROLE, admin)
    assert lockbox.hasRole(GOVERNOR_ROLE, admin)
    assert not lockbox.hasRole(GUARDIAN_ROLE, admin)
    assert lockbox.hasRole(GUARDIAN_ROLE, guardian)
    assert not lockbox.hasRole(GOVERNOR_ROLE, guardian)


@pytest.mark.parametrize("fn", sorted(GOVERNED))
def test_governed_functions_reject_everyone_but_the_governor(lockbox, usdc, guardian, alice, admin, fn):
    data = GOVERNED[fn](lockbox, usdc.address)
    for caller in (alice, guardian):  # a guardian can pause but cannot govern
        with reverts_with("AccessControlUnauthorizedAccount", caller.address, GOVERNOR_ROLE):
            caller.transfer(lockbox, 0, data=data)
    admin.transfer(lockbox, 0, data=data)  # the governor can


@pytest.mark.parametrize("fn", GUARDED)
def test_guarded_functions_accept_the_guardian(lockbox, guardian, fn):
    getattr(lockbox, fn)({"from": guardian})  # rejection of others: test_deposits


def test_only_the_admin_grants_roles(lockbox, guardian, alice):
    with reverts_with("AccessControlUnauthorizedAccount", guardian.address, DEFAULT_ADMIN_ROLE):
        lockbox.grantRole(GUARDIAN_ROLE, alice, {"from": guardian})
    with reverts_with("AccessControlUnauthorizedAccount", alice.address, DEFAULT_ADMIN_ROLE):
        lockbox.grantRole(GOVERNOR_ROLE, alice, {"from": alice})
