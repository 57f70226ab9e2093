"""Blast radius of one spoke's quorum on the hub (issue 9): the inflow limit per (spoke, asset)
queues what is above it and credits it later, in order, exactly once; the guardian pauses one
route's deposits and removes a validator at once; each with its access control."""

import brownie
import pytest
from eth_account import Account

from ledger_support import (
    GOVERNOR_ROLE,
    GUARDIAN_ROLE,
    ONE,
    SPOKE_A,
    SPOKE_B,
    USDC,
    USDC_A,
    USDC_B,
    USDC_SCALE,
    VALIDATORS,
    WETH,
    WETH_A,
    addresses,
    assert_reverts,
    error,
    plain,
    revert_data,
    signed_batch,
)

TOKEN = 10**6  # one USDC in token units
CAPACITY = 1_500 * TOKEN * USDC_SCALE  # ledger units
REFILL = 1 * TOKEN * USDC_SCALE  # one USDC per second


@pytest.fixture
def limiter(ledger):
    return brownie.Contract.from_abi("InflowLimiter", ledger.inflowLimiter(), brownie.InflowLimiter.abi)


@pytest.fixture
def limited(ledger, gov):
    """USDC from spoke A limited to a 1,500 USDC burst refilled at 1 USDC/s."""
    return ledger.setInflowLimit(SPOKE_A, USDC, CAPACITY, REFILL, {"from": gov})


def _timestamp(tx):
    return brownie.web3.eth.get_block(tx.block_number)["timestamp"]


def _deferred(tx):
    return (
        [(int(e["index"]), str(e["account"]), int(e["amount"])) for e in tx.events["DepositDeferred"]]
        if "DepositDeferred" in tx.events
        else []
    )


def _released(tx):
    return [
        (int(e["index"]), str(e["account"]), int(e["amount"]), int(e["remaining"]))
        for e in tx.events["DeferredReleased"]
    ]


# ----------------------------------------------------------------------------- inflow limit


def test_over_limit_batch_verifies_and_queues_the_excess(ledger, limiter, limited, deposit, alice, bob):
    tx = deposit(
        SPOKE_A,
        [(alice, alice, USDC_A, 1_000 * TOKEN), (bob, bob, USDC_A, 1_000 * TOKEN), (alice, alice, USDC_A, 200 * TOKEN)],
    )
    nonce, _ = ledger.depositRoute(SPOKE_A)
    assert nonce == 3  # the hash chain advanced over all three
    assert ledger.balanceOf(alice, USDC) == 1_000 * TOKEN * USDC_SCALE
    assert ledger.balanceOf(bob, USDC) == 500 * TOKEN * USDC_SCALE  # credited in part
    assert ledger.liquidity(SPOKE_A, USDC) == 1_500 * TOKEN
    assert _deferred(tx) == [(0, str(bob), 500 * TOKEN), (1, str(alice), 200 * TOKEN)]
    assert plain(limiter.deferredOf(SPOKE_A, USDC)) == [2, 700 * TOKEN, 0]
    assert plain(limiter.deferredAt(SPOKE_A, USDC, 1)) == [str(alice), 200 * TOKEN]
    assert limiter.availableInflow(SPOKE_A, USDC) < 10 * TOKEN * USDC_SCALE


def test_release_credits_in_order_as_the_bucket_refills_exactly_once(
    ledger, limiter, limited, deposit, alice, bob, stranger
):
    first = deposit(
        SPOKE_A,
        [(alice, alice, USDC_A, 1_500 * TOKEN), (bob, bob, USDC_A, 300 * TOKEN), (alice, alice, USDC_A, 200 * TOKEN)],
    )
    brownie.chain.sleep(100)
    tx = ledger.releaseDeferred(SPOKE_A, USDC, 10, {"from": stranger})  # permissionless
    room = (_timestamp(tx) - _timestamp(first)) * TOKEN  # token units refilled
    assert 100 * TOKEN <= room < 300 * TOKEN
    assert _released(tx) == [(0, str(bob), room, 300 * TOKEN - room)]  # the head, in part
    assert ledger.balanceOf(bob, USDC) == room * USDC_SCALE
    brownie.chain.sleep(1_000)
    tx = ledger.releaseDeferred(SPOKE_A, USDC, 10, {"from": stranger})
    assert _released(tx) == [(0, str(bob), 300 * TOKEN - room, 0), (1, str(alice), 200 * TOKEN, 0)]
    assert ledger.balanceOf(bob, USDC) == 300 * TOKEN * USDC_SCALE
    assert ledger.balanceOf(alice, USDC) == 1_700 * TOKEN * USDC_SCALE
    assert plain(limiter.deferredOf(SPOKE_A, USDC)) == [0, 0, 2]
    assert ledger.liquidity(SPOKE_A, USDC) == 2_000 * TOKEN  # every deposit credited exactly once
    assert_reverts(
        error("DeferredNoneQueued(uint64,uint32)", SPOKE_A, USDC),
        ledger.releaseDeferred,
        SPOKE_A,
        USDC,
        10,
        sender=stranger,
    )


def test_release_with_an_empty_bucket_is_refused(ledger, gov, limiter, deposit, alice, stranger):
    ledger.setInflowLimit(SPOKE_A, USDC, 10 * TOKEN * USDC_SCALE, 1, {"from": gov})  # 1 ledger unit/s
    deposit(SPOKE_A, [(alice, alice, USDC_A, 11 * TOKEN)])
    level = limiter.availableInflow(SPOKE_A, USDC)
    assert level < USDC_SCALE
    with brownie.reverts():
        ledger.releaseDeferred(SPOKE_A, USDC, 10, {"from": stranger})
    data = revert_data(ledger.releaseDeferred, (SPOKE_A, USDC, 10), stranger)
    assert data[:4] == error("DeferredInflowExhausted(uint64,uint32,uint256)", SPOKE_A, USDC, 0)[:4]


def test_release_stops_at_max_entries(ledger, limiter, limited, deposit, alice, bob, stranger):
    deposit(
        SPOKE_A,
        [(alice, alice, USDC_A, 1_500 * TOKEN), (bob, bob, USDC_A, 1 * TOKEN), (alice, alice, USDC_A, 1 * TOKEN)],
    )
    brownie.chain.sleep(100)
    tx = ledger.releaseDeferred(SPOKE_A, USDC, 1, {"from": stranger})
    assert _released(tx) == [(0, str(bob), TOKEN, 0)]
    assert plain(limiter.deferredOf(SPOKE_A, USDC)) == [1, TOKEN, 1]


def test_later_deposits_queue_behind_a_non_empty_queue(ledger, limiter, limited, deposit, alice, bob):
    deposit(SPOKE_A, [(alice, alice, USDC_A, 1_600 * TOKEN)])
    brownie.chain.sleep(500)  # the bucket refilled, but the queue is not empty
    tx = deposit(SPOKE_A, [(bob, bob, USDC_A, 1 * TOKEN)])
    assert _deferred(tx) == [(1, str(bob), TOKEN)]
    assert ledger.balanceOf(bob, USDC) == 0


def test_deposit_above_capacity_is_credited_over_several_refills(ledger, gov, limiter, deposit, alice, stranger):
    ledger.setInflowLimit(SPOKE_A, USDC, 10 * TOKEN * USDC_SCALE, 10 * TOKEN * USDC_SCALE, {"from": gov})
    deposit(SPOKE_A, [(alice, alice, USDC_A, 25 * TOKEN)])
    assert ledger.balanceOf(alice, USDC) == 10 * TOKEN * USDC_SCALE
    for _ in range(2):
        brownie.chain.sleep(5)
        ledger.releaseDeferred(SPOKE_A, USDC, 1, {"from": stranger})
    assert ledger.balanceOf(alice, USDC) == 25 * TOKEN * USDC_SCALE
    assert plain(limiter.deferredOf(SPOKE_A, USDC))[:2] == [0, 0]


def test_queues_are_per_spoke_and_asset(ledger, gov, limiter, limited, deposit, alice, bob):
    ledger.setInflowLimit(SPOKE_B, USDC, CAPACITY, REFILL, {"from": gov})
    deposit(SPOKE_A, [(alice, alice, USDC_A, 1_600 * TOKEN)])  # A's USDC queue is now non-empty
    deposit(SPOKE_A, [(bob, bob, WETH_A, 5 * ONE)])  # A's WETH: no limit, no queue
    deposit(SPOKE_B, [(bob, bob, USDC_B, 1_000 * TOKEN)])  # B's USDC: its own bucket
    assert ledger.balanceOf(bob, WETH) == 5 * ONE
    assert ledger.balanceOf(bob, USDC) == 1_000 * TOKEN * USDC_SCALE
    assert limiter.deferredOf(SPOKE_B, USDC)[0] == 0
    assert limiter.deferredOf(SPOKE_A, WETH)[0] == 0
    assert limiter.deferredOf(SPOKE_A, USDC)[0] == 1


def test_removing_the_limit_lets_the_queue_drain_at_once_then_deposits_credit_directly(
    ledger, gov, limiter, limited, deposit, alice, bob, stranger
):
    deposit(SPOKE_A, [(alice, alice, USDC_A, 2_000 * TOKEN)])
    ledger.setInflowLimit(SPOKE_A, USDC, 0, 0, {"from": gov})
    tx = deposit(SPOKE_A, [(bob, bob, USDC_A, 7 * TOKEN)])  # still behind alice's rest
    assert _deferred(tx) == [(1, str(bob), 7 * TOKEN)]
    ledger.releaseDeferred(SPOKE_A, USDC, 10, {"from": stranger})
    assert ledger.balanceOf(alice, USDC) == 2_000 * TOKEN * USDC_SCALE
    assert ledger.balanceOf(bob, USDC) == 7 * TOKEN * USDC_SCALE
    tx = deposit(SPOKE_A, [(bob, bob, USDC_A, 1 * TOKEN)])
    assert "DepositDeferred" not in tx.events
    assert ledger.balanceOf(bob, USDC) == 8 * TOKEN * USDC_SCALE


def test_queued_deposit_of_a_since_delisted_token_becomes_a_claim(
    ledger, gov, limiter, limited, deposit, alice, stranger
):
    deposit(SPOKE_A, [(alice, alice, USDC_A, 1_600 * TOKEN)])
    ledger.setTokenListed(SPOKE_A, USDC_A, False, {"from": gov})
    brownie.chain.sleep(200)
    ledger.releaseDeferred(SPOKE_A, USDC, 10, {"from": stranger})
    assert ledger.claimOf(alice, SPOKE_A, USDC_A) == 100 * TOKEN
    assert ledger.balanceOf(alice, USDC) == 1_500 * TOKEN * USDC_SCALE


def test_raising_the_limit_keeps_the_level(ledger, gov, limiter, limited, deposit, alice):
    deposit(SPOKE_A, [(alice, alice, USDC_A, 1_500 * TOKEN)])
    ledger.setInflowLimit(SPOKE_A, USDC, 10 * CAPACITY, REFILL, {"from": gov})
    assert limiter.availableInflow(SPOKE_A, USDC) < 100 * TOKEN * USDC_SCALE


@pytest.mark.parametrize("capacity, refill", [(1, 0), (0, 1), (2**128, 1), (1, 2**128)])
def test_invalid_limit_rejected(ledger, gov, capacity, refill):
    assert_reverts(
        error("InflowLimitInvalid(uint256,uint256)", capacity, refill),
        ledger.setInflowLimit,
        SPOKE_A,
        USDC,
        capacity,
        refill,
        sender=gov,
    )


def test_limit_needs_the_asset_on_the_spoke(ledger, gov):
    assert_reverts(
        error("AssetNotOnSpoke(uint32,uint64)", WETH, SPOKE_B), ledger.setInflowLimit, SPOKE_B, WETH, 1, 1, sender=gov
    )


def test_limit_is_governance_only_and_the_module_ledger_only(ledger, limiter, guardian, stranger, alice):
    for caller in (guardian, stranger):
        assert_reverts(
            error("AccessControlUnauthorizedAccount(address,bytes32)", str(caller), GOVERNOR_ROLE),
            ledger.setInflowLimit,
            SPOKE_A,
            USDC,
            1,
            1,
            sender=caller,
        )
    err = error("InflowLimiterCallerNotLedger(address)", str(stranger))
    assert_reverts(err, limiter.setLimit, SPOKE_A, USDC, 1, 1, sender=stranger)
    assert_reverts(err, limiter.admit, SPOKE_A, USDC, alice, 1, 1, sender=stranger)
    assert_reverts(err, limiter.release, SPOKE_A, USDC, 1, 1, sender=stranger)
    assert limiter.ledger() == ledger.address


# ----------------------------------------------------------------------------- guardian pause


def test_pause_blocks_only_that_route_and_only_governance_resumes(
    ledger, gov, guardian, limited, deposit, alice, relayer, lockbox_a, stranger
):
    deposit(SPOKE_A, [(alice, alice, USDC_A, 1_600 * TOKEN)])
    tx = ledger.pauseDeposits(SPOKE_A, {"from": guardian})
    assert tx.events["DepositsPauseSet"]["paused"] is True
    assert ledger.depositsPaused(SPOKE_A) and not ledger.depositsPaused(SPOKE_B)
    batch = signed_batch(ledger, SPOKE_A, lockbox_a, [(alice, alice, USDC_A, 1)])
    assert_reverts(error("RouteDepositsPaused(uint64)", SPOKE_A), ledger.processDeposits, *batch, sender=relayer)
    brownie.chain.sleep(200)
    assert_reverts(
        error("RouteDepositsPaused(uint64)", SPOKE_A), ledger.releaseDeferred, SPOKE_A, USDC, 1, sender=stranger
    )
    deposit(SPOKE_B, [(alice, alice, USDC_B, 5 * TOKEN)])  # the other route is untouched
    assert_reverts(
        error("AccessControlUnauthorizedAccount(address,bytes32)", str(guardian), GOVERNOR_ROLE),
        ledger.unpauseDeposits,
        SPOKE_A,
        sender=guardian,
    )
    ledger.unpauseDeposits(SPOKE_A, {"from": gov})
    ledger.processDeposits(*batch, {"from": relayer})
    ledger.releaseDeferred(SPOKE_A, USDC, 1, {"from": stranger})


def test_pause_is_guardian_only_and_needs_a_route(ledger, gov, guardian, stranger):
    for caller in (gov, stranger):
        assert_reverts(
            error("AccessControlUnauthorizedAccount(address,bytes32)", str(caller), GUARDIAN_ROLE),
            ledger.pauseDeposits,
            SPOKE_A,
            sender=caller,
        )
    assert_reverts(error("RouteUnknown(uint64)", 999), ledger.pauseDeposits, 999, sender=guardian)


# ----------------------------------------------------------------------------- validator removal


def _signer(key):
    return Account.from_key(key).address


def test_guardian_removal_takes_effect_at_once(ledger, guardian, relayer, lockbox_a, alice):
    removed = VALIDATORS[0]
    msgs = [(alice, alice, USDC_A, 1)]
    stale = signed_batch(ledger, SPOKE_A, lockbox_a, msgs, keys=VALIDATORS[:3])  # signed before
    tx = ledger.removeValidator(SPOKE_A, _signer(removed), {"from": guardian})
    assert tx.events["ValidatorRemoved"]["version"] == 2
    assert ledger.thresholdOf(SPOKE_A) == 3
    assert not ledger.isValidator(SPOKE_A, _signer(removed))
    assert sorted(map(str, ledger.validatorsOf(SPOKE_A))) == sorted(addresses(VALIDATORS[1:]))
    assert_reverts(
        error("CheckpointSignerNotValidator(address)", _signer(removed)), ledger.processDeposits, *stale, sender=relayer
    )
    ledger.processDeposits(*signed_batch(ledger, SPOKE_A, lockbox_a, msgs, keys=VALIDATORS[1:4]), {"from": relayer})
    assert len(ledger.validatorsOf(SPOKE_B)) == 5  # the other route's set is untouched


def test_removal_that_breaks_the_threshold_is_refused(ledger, gov, guardian):
    ledger.setValidators(SPOKE_A, addresses(VALIDATORS[:3]), 3, {"from": gov})
    assert_reverts(
        error("ValidatorRemovalBreaksQuorum(uint64,uint256,uint256)", SPOKE_A, 2, 3),
        ledger.removeValidator,
        SPOKE_A,
        _signer(VALIDATORS[0]),
        sender=guardian,
    )


def test_removal_of_a_non_member_is_refused(ledger, guardian):
    outsider = "0x000000000000000000000000000000000000dEaD"
    assert_reverts(
        error("ValidatorNotInSet(uint64,address)", SPOKE_A, outsider),
        ledger.removeValidator,
        SPOKE_A,
        outsider,
        sender=guardian,
    )
    assert_reverts(
        error("ValidatorNotInSet(uint64,address)", 999, outsider),
        ledger.removeValidator,
        999,
        outsider,
        sender=guardian,
    )


def test_removal_is_guardian_only(ledger, gov, stranger):
    for caller in (gov, stranger):
        assert_reverts(
            error("AccessControlUnauthorizedAccount(address,bytes32)", str(caller), GUARDIAN_ROLE),
            ledger.removeValidator,
            SPOKE_A,
            _signer(VALIDATORS[0]),
            sender=caller,
        )
