"""Applying verified deposit batches: crediting, normalisation, fungibility, claims."""

import brownie
from ledger_support import (
    JUNK_A,
    ONE,
    ONE_USDC_TOKEN,
    SPOKE_A,
    SPOKE_B,
    USDC,
    USDC_A,
    USDC_B,
    USDC_SCALE,
    WETH,
    WETH_A,
    assert_books_balance,
    deposit_head,
    fake_address,
    plain,
)


def test_deposit_credits_balance_liquidity_and_total_in_ledger_units(ledger, deposit, alice):
    amount = 1_234_567  # 1.234567 USDC in 6-decimal token units
    head = deposit_head(ledger, SPOKE_A, [(alice, alice, USDC_A, amount)])

    tx = deposit(SPOKE_A, [(alice, alice, USDC_A, amount)])

    assert ledger.balanceOf(alice, USDC) == amount * USDC_SCALE
    assert ledger.liquidity(SPOKE_A, USDC) == amount  # token units
    assert ledger.assetInfo(USDC)[4] == amount * USDC_SCALE
    assert plain(ledger.depositRoute(SPOKE_A)) == [1, "0x" + head.hex()]
    assert tx.events["DepositCredited"][0] == {"account": alice, "assetId": USDC, "amount": amount * USDC_SCALE}
    assert tx.events["DepositsProcessed"][0] == {
        "sourceChainId": SPOKE_A,
        "lastNonce": 1,
        "head": "0x" + head.hex(),
        "count": 1,
    }


def test_deposit_credits_account_not_depositor(ledger, deposit, alice, bob):
    deposit(SPOKE_A, [(bob, alice, WETH_A, 2 * ONE)])
    assert ledger.balanceOf(alice, WETH) == 2 * ONE
    assert ledger.balanceOf(bob, WETH) == 0


def test_collateral_is_fungible_across_spokes(ledger, deposit, alice, bob):
    deposit(SPOKE_A, [(alice, alice, USDC_A, 100 * ONE_USDC_TOKEN)])
    deposit(SPOKE_B, [(alice, alice, USDC_B, 50 * ONE_USDC_TOKEN), (bob, bob, USDC_B, 7)])

    assert ledger.balanceOf(alice, USDC) == 150 * ONE
    assert ledger.balanceOf(bob, USDC) == 7 * USDC_SCALE
    assert ledger.liquidity(SPOKE_A, USDC) == 100 * ONE_USDC_TOKEN
    assert ledger.liquidity(SPOKE_B, USDC) == 50 * ONE_USDC_TOKEN + 7
    assert ledger.depositRoute(SPOKE_A)[0] == 1
    assert ledger.depositRoute(SPOKE_B)[0] == 2
    assert_books_balance(ledger, [alice, bob])


def test_route_head_follows_python_hash_chain_across_batches(ledger, deposit, alice, bob):
    first = [(alice, alice, USDC_A, 1), (bob, bob, WETH_A, 2)]
    second = [(bob, alice, USDC_A, 3)]
    expected = deposit_head(ledger, SPOKE_A, first + second)

    deposit(SPOKE_A, first)
    deposit(SPOKE_A, second)

    assert plain(ledger.depositRoute(SPOKE_A)) == [3, "0x" + expected.hex()]


def test_unlisted_token_becomes_claim_and_batch_still_applies(ledger, deposit, alice, bob):
    tx = deposit(SPOKE_A, [(alice, alice, JUNK_A, 500), (bob, bob, USDC_A, 9), (alice, alice, JUNK_A, 1)])

    assert ledger.claimOf(alice, SPOKE_A, JUNK_A) == 501
    assert ledger.totalClaims(SPOKE_A, JUNK_A) == 501
    assert ledger.balanceOf(bob, USDC) == 9 * USDC_SCALE
    assert ledger.depositRoute(SPOKE_A)[0] == 3
    assert tx.events["ClaimCredited"][0] == {"account": alice, "chainId": SPOKE_A, "token": JUNK_A, "amount": 500}
    assert len(tx.events["DepositCredited"]) == 1


def test_listed_token_on_another_chain_is_a_claim(ledger, deposit, alice):
    # USDC_A is listed on spoke A only: arriving from spoke B it is an unknown (chainId, token).
    deposit(SPOKE_B, [(alice, alice, USDC_A, 10)])
    assert ledger.claimOf(alice, SPOKE_B, USDC_A) == 10
    assert ledger.balanceOf(alice, USDC) == 0
    assert ledger.liquidity(SPOKE_B, USDC) == 0


def test_supply_cap_overflow_becomes_claim(ledger, deposit, gov, alice, bob):
    ledger.setCollateralParams(USDC, 9_000, 150 * ONE, {"from": gov})

    tx = deposit(
        SPOKE_A,
        [
            (alice, alice, USDC_A, 100 * ONE_USDC_TOKEN),
            (bob, bob, USDC_A, 60 * ONE_USDC_TOKEN),  # 160 > 150: claim
            (bob, bob, WETH_A, ONE),  # other asset unaffected
            (bob, bob, USDC_A, 50 * ONE_USDC_TOKEN),  # exactly at the cap: credited
        ],
    )

    assert ledger.balanceOf(alice, USDC) == 100 * ONE
    assert ledger.balanceOf(bob, USDC) == 50 * ONE
    assert ledger.claimOf(bob, SPOKE_A, USDC_A) == 60 * ONE_USDC_TOKEN
    assert ledger.balanceOf(bob, WETH) == ONE
    assert plain(ledger.assetInfo(USDC)[3:]) == [150 * ONE, 150 * ONE]
    assert ledger.liquidity(SPOKE_A, USDC) == 150 * ONE_USDC_TOKEN  # claims are not liquidity
    assert tx.events["ClaimCredited"][0]["amount"] == 60 * ONE_USDC_TOKEN
    assert_books_balance(ledger, [alice, bob])


def test_cap_set_after_deposits_counts_existing_total_across_spokes(ledger, deposit, gov, alice):
    deposit(SPOKE_A, [(alice, alice, USDC_A, 70 * ONE_USDC_TOKEN)])
    deposit(SPOKE_B, [(alice, alice, USDC_B, 20 * ONE_USDC_TOKEN)])
    ledger.setCollateralParams(USDC, 10_000, 100 * ONE, {"from": gov})

    deposit(SPOKE_B, [(alice, alice, USDC_B, 11 * ONE_USDC_TOKEN), (alice, alice, USDC_B, 10 * ONE_USDC_TOKEN)])

    assert ledger.claimOf(alice, SPOKE_B, USDC_B) == 11 * ONE_USDC_TOKEN
    assert ledger.balanceOf(alice, USDC) == 100 * ONE

    ledger.setCollateralParams(USDC, 10_000, 0, {"from": gov})  # cap removed
    deposit(SPOKE_B, [(alice, alice, USDC_B, 11 * ONE_USDC_TOKEN)])
    assert ledger.balanceOf(alice, USDC) == 111 * ONE
    assert plain(ledger.assetInfo(USDC)[3:]) == [0, 111 * ONE]
    assert_books_balance(ledger, [alice])


def test_cap_lowered_below_total_keeps_balances(ledger, deposit, gov, alice):
    deposit(SPOKE_A, [(alice, alice, USDC_A, 10 * ONE_USDC_TOKEN)])
    ledger.setCollateralParams(USDC, 10_000, 5 * ONE, {"from": gov})
    deposit(SPOKE_A, [(alice, alice, USDC_A, 1)])
    assert ledger.balanceOf(alice, USDC) == 10 * ONE
    assert ledger.claimOf(alice, SPOKE_A, USDC_A) == 1


def test_delisted_token_becomes_claim_then_relisted_credits(ledger, deposit, gov, alice):
    tx = ledger.setTokenListed(SPOKE_A, USDC_A, False, {"from": gov})
    assert tx.events["TokenListingSet"][0] == {"chainId": SPOKE_A, "token": USDC_A, "listed": False}
    deposit(SPOKE_A, [(alice, alice, USDC_A, 5)])
    assert ledger.claimOf(alice, SPOKE_A, USDC_A) == 5
    assert ledger.balanceOf(alice, USDC) == 0

    ledger.setTokenListed(SPOKE_A, USDC_A, True, {"from": gov})
    deposit(SPOKE_A, [(alice, alice, USDC_A, 5)])
    assert ledger.balanceOf(alice, USDC) == 5 * USDC_SCALE


def test_interleaved_tokens_keep_exact_liquidity(ledger, deposit, alice, bob):
    deposit(
        SPOKE_A,
        [
            (alice, alice, USDC_A, 1),
            (alice, alice, WETH_A, 2),
            (bob, bob, USDC_A, 3),
            (bob, bob, JUNK_A, 4),
            (bob, bob, USDC_A, 5),
            (alice, alice, WETH_A, 6),
        ],
    )
    assert ledger.liquidity(SPOKE_A, USDC) == 9
    assert ledger.liquidity(SPOKE_A, WETH) == 8
    assert ledger.balanceOf(bob, USDC) == 8 * USDC_SCALE
    assert ledger.claimOf(bob, SPOKE_A, JUNK_A) == 4
    assert_books_balance(ledger, [alice, bob])


def test_amount_too_large_to_scale_becomes_claim_without_reverting(ledger, deposit, alice, bob):
    huge = 2**200
    deposit(SPOKE_A, [(alice, alice, USDC_A, huge), (bob, bob, USDC_A, 1)])
    assert ledger.claimOf(alice, SPOKE_A, USDC_A) == huge
    assert ledger.balanceOf(alice, USDC) == 0
    assert ledger.balanceOf(bob, USDC) == USDC_SCALE


def test_liquidity_stops_at_128_bit_ledger_value(ledger, deposit, alice):
    limit = (2**128 - 1) // USDC_SCALE
    deposit(SPOKE_A, [(alice, alice, USDC_A, limit), (alice, alice, USDC_A, 1)])
    assert ledger.liquidity(SPOKE_A, USDC) == limit
    assert ledger.claimOf(alice, SPOKE_A, USDC_A) == 1


def test_hostile_claim_amounts_saturate_instead_of_reverting(ledger, deposit, alice):
    deposit(SPOKE_A, [(alice, alice, JUNK_A, 2**256 - 1), (alice, alice, JUNK_A, 2**256 - 1)])
    assert ledger.claimOf(alice, SPOKE_A, JUNK_A) == 2**256 - 1
    assert ledger.depositRoute(SPOKE_A)[0] == 2


def test_anyone_may_relay_a_valid_batch(ledger, stranger, alice, lockbox_a):
    from ledger_support import signed_batch

    batch = signed_batch(ledger, SPOKE_A, lockbox_a, [(alice, alice, USDC_A, 1)])
    ledger.processDeposits(*batch, {"from": stranger})
    assert ledger.balanceOf(alice, USDC) == USDC_SCALE


def test_many_accounts_in_one_batch(ledger, deposit):
    holders = [fake_address(f"holder-{i}") for i in range(20)]
    deposit(SPOKE_B, [(h, h, USDC_B, i + 1) for i, h in enumerate(holders)])
    for i, h in enumerate(holders):
        assert ledger.balanceOf(h, USDC) == (i + 1) * USDC_SCALE
    assert_books_balance(ledger, holders)


def test_spokes_view_lists_registered_chains(ledger, lockbox_a, lockbox_b):
    assert plain(ledger.spokes()) == [SPOKE_A, SPOKE_B]
    assert ledger.lockboxOf(SPOKE_A) == lockbox_a
    assert ledger.lockboxOf(SPOKE_B) == lockbox_b
    assert ledger.lockboxOf(1) == brownie.ZERO_ADDRESS
