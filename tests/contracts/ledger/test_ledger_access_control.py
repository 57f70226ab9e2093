"""Every privileged function refuses callers without its role (the revert names the role)."""

import pytest
from ledger_support import (
    GOVERNOR_ROLE,
    GUARDIAN_ROLE,
    MARGIN_ROLE,
    SPOKE_A,
    USDC,
    USDC_A,
    addresses,
    assert_reverts,
    error,
    VALIDATOR_KEYS,
)

ADMIN_ROLE = bytes(32)

GOVERNOR_CALLS = {
    "registerSpoke": lambda acct: (31400, acct),
    "setValidators": lambda acct: (SPOKE_A, addresses(VALIDATOR_KEYS[:3]), 2),
    "listAsset": lambda acct: (9, "X", 18),
    "listToken": lambda acct: (SPOKE_A, acct, USDC, 6),
    "setTokenListed": lambda acct: (SPOKE_A, USDC_A, False),
    "setCollateralParams": lambda acct: (USDC, 1, 1),
    "setRiskEngine": lambda acct: (acct,),
    "setInsuranceFund": lambda acct: (acct,),
}


@pytest.mark.parametrize("name", sorted(GOVERNOR_CALLS))
def test_governor_functions_reject_others(ledger, name, stranger, guardian, margin):
    for caller in (stranger, guardian, margin):
        assert_reverts(
            error("AccessControlUnauthorizedAccount(address,bytes32)", str(caller), GOVERNOR_ROLE),
            getattr(ledger, name),
            *GOVERNOR_CALLS[name](stranger),
            sender=caller,
        )


def test_pause_requires_guardian_even_for_governor(ledger, gov, stranger):
    for caller in (gov, stranger):
        assert_reverts(
            error("AccessControlUnauthorizedAccount(address,bytes32)", str(caller), GUARDIAN_ROLE),
            ledger.setWithdrawalsPaused,
            True,
            sender=caller,
        )


@pytest.mark.parametrize("name", ["transferUsd", "transferCollateral", "writeOffBadDebt"])
def test_margin_hooks_reject_governor(ledger, gov, alice, name):
    args = {"transferUsd": (alice, gov, 1), "transferCollateral": (alice, gov, USDC, 0), "writeOffBadDebt": (alice,)}
    assert_reverts(
        error("AccessControlUnauthorizedAccount(address,bytes32)", str(gov), MARGIN_ROLE),
        getattr(ledger, name),
        *args[name],
        sender=gov,
    )


def test_roles_only_granted_by_admin(ledger, stranger):
    assert_reverts(
        error("AccessControlUnauthorizedAccount(address,bytes32)", str(stranger), ADMIN_ROLE),
        ledger.grantRole,
        MARGIN_ROLE,
        stranger,
        sender=stranger,
    )


def test_constructor_grants_admin_and_governor(ledger, gov):
    assert ledger.hasRole(ADMIN_ROLE, gov)
    assert ledger.hasRole(GOVERNOR_ROLE, gov)
    assert not ledger.hasRole(GUARDIAN_ROLE, gov)
    assert not ledger.hasRole(MARGIN_ROLE, gov)
