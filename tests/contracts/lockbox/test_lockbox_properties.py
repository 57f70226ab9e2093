"""Properties checked over generated inputs, beside the fixed-input tests: the token bucket
against a Python model, deposits against the books, and that starving a batch of gas can
never park a good release (the batch reverts with ReleaseGasInsufficient instead)."""

from brownie import web3
from brownie.exceptions import VirtualMachineError
from brownie.test import given
from lockbox_support import UNIT
from hypothesis import settings
from hypothesis import strategies as st

from checkpoints import deposit_leaf, extend

CAPACITY, REFILL = 1_000 * UNIT, 10 * UNIT


@settings(max_examples=10)
@given(steps=st.lists(st.tuples(st.integers(0, 150), st.integers(1, 1_200)), min_size=1, max_size=6))
def test_rate_limit_matches_token_bucket_model(lockbox, usdc, batches, admin, alice, bob, relayer, steps):
    lockbox.deposit(usdc, 100_000 * UNIT, alice, {"from": alice})
    tx = lockbox.setRateLimit(usdc, CAPACITY, REFILL, {"from": admin})
    available, updated = CAPACITY, tx.timestamp
    released = parked = 0
    for sleep, amount in steps:
        web3.provider.make_request("evm_increaseTime", [sleep])
        amount *= UNIT
        tx = batches.process([(alice, bob.address, usdc.address, amount)], relayer)
        available = min(CAPACITY, available + (tx.timestamp - updated) * REFILL)
        updated = tx.timestamp
        if amount <= available:
            available -= amount
            released += amount
            assert "Released" in tx.events and "ReleaseParked" not in tx.events
        else:
            parked += amount
            assert tx.events["ReleaseParked"]["reason"] == 1  # Delayed
    assert lockbox.owed(usdc) == parked  # nothing dropped
    assert lockbox.custodied(usdc) == 100_000 * UNIT - released


@settings(max_examples=10)
@given(
    deposits=st.lists(
        st.tuples(st.integers(1, 10**12), st.integers(0, 2_000), st.booleans()), min_size=1, max_size=5
    )
)
def test_deposits_book_exactly_what_arrives(lockbox, FeeOnTransferToken, admin, alice, bob, deposits):
    token = FeeOnTransferToken.deploy("Fee", "FEE", 18, 0, {"from": admin})
    lockbox.listToken(token, {"from": admin})
    token.mint(alice, 10**14, {"from": alice})
    token.approve(lockbox, 2**256 - 1, {"from": alice})
    nonce, head = lockbox.depositRoute()
    head = bytes(head)
    for amount, fee_bps, for_bob in deposits:
        token.setFeeBps(fee_bps, {"from": admin})
        account = bob if for_bob else alice
        tx = lockbox.deposit(token, amount, account, {"from": alice})
        nonce += 1
        received = amount - amount * fee_bps // 10_000
        head = extend(head, deposit_leaf(nonce, alice, account, token, received))
        assert tx.events["Deposited"]["amount"] == received
    assert lockbox.custodied(token) == token.balanceOf(lockbox)
    assert bytes(lockbox.depositRoute()[1]) == head


def test_starving_a_batch_of_gas_reverts_it_instead_of_parking_a_release(lockbox, usdc, batches, alice, relayer, accounts):
    lockbox.deposit(usdc, 1_000 * UNIT, alice, {"from": alice})
    recipient = accounts[7]
    outcomes = set()
    for gas in range(100_000, 400_001, 10_000):
        msgs, checkpoint, sigs = batches.build([(alice, recipient.address, usdc.address, UNIT)])
        try:
            tx = lockbox.processWithdrawals(msgs, checkpoint, sigs, {"from": relayer, "gas": gas})
        except VirtualMachineError as exc:
            outcomes.add((exc.revert_msg or "").partition(":")[0] or "out of gas")
            continue
        assert "ReleaseParked" not in tx.events, f"parked a good release with gas limit {gas}"
        outcomes.add("Released")
    assert {"ReleaseGasInsufficient", "Released"} <= outcomes, outcomes
    assert lockbox.owed(usdc) == 0
