"""Minimum deposit and relay fee per token (issue 9): deposits below the minimum are refused; a
withdrawal pays `min(fee, 1 % of it)` to the relayer that delivered its batch, booked in custody
and claimed through the outflow limit; who ends with what is exact."""

from lockbox_support import GOVERNOR_ROLE, UNIT, reverts_with

FEE = 2 * UNIT


def test_deposit_below_the_minimum_is_refused(lockbox, usdc, admin, alice):
    lockbox.setMinDeposit(usdc, 10 * UNIT, {"from": admin})
    assert [int(v) for v in lockbox.tokenFees(usdc)] == [10 * UNIT, 0]
    with reverts_with("DepositBelowMinimum", usdc.address, 10 * UNIT - 1, 10 * UNIT):
        lockbox.deposit(usdc, 10 * UNIT - 1, alice, {"from": alice})
    lockbox.deposit(usdc, 10 * UNIT, alice, {"from": alice})
    assert lockbox.custodied(usdc) == 10 * UNIT


def test_native_deposit_below_the_minimum_is_refused(lockbox, native_listed, admin, alice):
    lockbox.setMinDeposit(native_listed, 10**15, {"from": admin})
    with reverts_with("DepositBelowMinimum"):
        lockbox.depositNative(alice, {"from": alice, "value": 10**15 - 1})
    lockbox.depositNative(alice, {"from": alice, "value": 10**15})


def test_relay_fee_pays_the_delivering_relayer_exactly(lockbox, usdc, batches, admin, alice, bob, relayer):
    lockbox.deposit(usdc, 1_000 * UNIT, alice, {"from": alice})
    lockbox.setRelayFee(usdc, FEE, {"from": admin})
    bob_before = usdc.balanceOf(bob)
    tx = batches.process(
        [(alice, bob.address, usdc.address, 500 * UNIT), (alice, bob.address, usdc.address, 100 * UNIT)], relayer
    )
    # 2 USDC on 500; on 100 the 1 % cap (1 USDC) applies
    assert [e["fee"] for e in tx.events["RelayFeeCharged"]] == [FEE, UNIT]
    assert all(e["relayer"] == relayer for e in tx.events["RelayFeeCharged"])
    assert usdc.balanceOf(bob) - bob_before == 600 * UNIT - FEE - UNIT
    assert lockbox.relayFeesOf(relayer, usdc) == FEE + UNIT
    assert lockbox.relayFeesOwed(usdc) == FEE + UNIT
    assert lockbox.custodied(usdc) == 400 * UNIT + FEE + UNIT  # fees stay in custody until claimed

    payee = "0x000000000000000000000000000000000000bEEF"
    claim = lockbox.claimRelayFees(usdc, payee, {"from": relayer})
    assert claim.events["RelayFeesClaimed"]["amount"] == FEE + UNIT
    assert usdc.balanceOf(payee) == FEE + UNIT
    assert lockbox.relayFeesOf(relayer, usdc) == 0 and lockbox.relayFeesOwed(usdc) == 0
    assert lockbox.custodied(usdc) == 400 * UNIT
    assert usdc.balanceOf(lockbox) == 400 * UNIT
    with reverts_with("RelayFeesNone", relayer.address, usdc.address):
        lockbox.claimRelayFees(usdc, payee, {"from": relayer})


def test_fee_is_charged_on_a_parked_release_too(lockbox, usdc, batches, admin, alice, bob, relayer):
    lockbox.deposit(usdc, 1_000 * UNIT, alice, {"from": alice})
    lockbox.setRelayFee(usdc, FEE, {"from": admin})
    lockbox.setRateLimit(usdc, 100 * UNIT, 1, {"from": admin})
    tx = batches.process([(alice, bob.address, usdc.address, 500 * UNIT)], relayer)
    assert "ReleaseParked" in tx.events
    assert lockbox.pendingRelease(1)[4] == 500 * UNIT - FEE  # the recipient's part waits
    assert lockbox.owed(usdc) == 500 * UNIT - FEE
    assert lockbox.relayFeesOf(relayer, usdc) == FEE


def test_claim_goes_through_the_outflow_limit(lockbox, usdc, batches, admin, alice, bob, relayer):
    lockbox.deposit(usdc, 1_000 * UNIT, alice, {"from": alice})
    lockbox.setRelayFee(usdc, FEE, {"from": admin})
    batches.process([(alice, bob.address, usdc.address, 500 * UNIT)], relayer)
    lockbox.setRateLimit(usdc, 1 * UNIT, 1, {"from": admin})
    with reverts_with("ReleaseRateLimited"):
        lockbox.claimRelayFees(usdc, relayer, {"from": relayer})


def test_no_fee_set_charges_nothing(lockbox, usdc, batches, alice, bob, relayer):
    lockbox.deposit(usdc, 1_000 * UNIT, alice, {"from": alice})
    tx = batches.process([(alice, bob.address, usdc.address, 500 * UNIT)], relayer)
    assert "RelayFeeCharged" not in tx.events
    assert lockbox.relayFeeFor(usdc, 500 * UNIT) == 0


def test_fees_are_governance_only_and_bounded(lockbox, usdc, admin, guardian, alice):
    for fn in (lockbox.setMinDeposit, lockbox.setRelayFee):
        for caller in (guardian, alice):
            with reverts_with("AccessControlUnauthorizedAccount", caller.address, GOVERNOR_ROLE):
                fn(usdc, 1, {"from": caller})
        with reverts_with("TokenFeeInvalid", 2**128):
            fn(usdc, 2**128, {"from": admin})
    assert lockbox.MAX_RELAY_FEE_BPS() == 100
