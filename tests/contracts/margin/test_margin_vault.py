"""LP vault (issue 8, scenario 6): share accounting, delayed redemption priced at execution,
inflation and sandwich defences, the max-PnL factor, auto-deleveraging, and a squeeze in which a
rule fires before the vault's equity can reach zero."""

import pytest
from brownie import chain
from margin_vault_support import MAX_PNL_FACTOR, VAULT_USDC, wait_redeem_delay

from margin_helpers import E18, MARGIN_ROLE, open_position, reverts_with
from margin_support import DAY, USDC, WETH, fund, set_price

UNIT = 10**12


@pytest.fixture
def whale(accounts, vsys):
    """80k USDC, long 400 ETH at $2,000 against the vault (IM ~$72k)."""
    fund(vsys, accounts[1], usdc=80_000)
    open_position(vsys.eth, accounts[1], 400 * E18)
    return accounts[1]


def value_of(vault, shares):
    return shares * vault.sharePrice() // E18


def test_first_deposit_prices_one_share_at_one_dollar(vsys):
    shares = vsys.vault.sharesOf(vsys.lp)
    assert shares == VAULT_USDC * E18
    assert vsys.vault.sharePrice() == E18
    assert vsys.vault.equity() == VAULT_USDC * E18


def test_redeem_waits_for_the_delay_and_pays_at_execution_price(vsys, accounts):
    lp2 = accounts[2]
    fund(vsys, lp2, usdc=10_000)
    shares = vsys.vault.deposit(10_000 * 10**6, {"from": lp2}).return_value
    rid = vsys.vault.requestRedeem(shares, {"from": lp2}).return_value
    with reverts_with("VaultRedemptionNotReady"):
        vsys.vault.executeRedeem(rid, {"from": lp2})
    wait_redeem_delay()
    set_price(vsys, USDC, 1)  # refresh the collateral feed after the delay
    tx = vsys.vault.executeRedeem(rid, {"from": accounts[3]})  # anyone may execute; the owner is paid
    assert tx.events["VaultRedeemed"]["assets"] == 10_000 * 10**6  # same share price in and out
    assert vsys.ledger.balanceOf(lp2, USDC) == 10_000 * 10**6
    with reverts_with("VaultRedemptionUnknown"):
        vsys.vault.executeRedeem(rid, {"from": lp2})


def test_pending_redemption_bears_the_vault_losses(vsys, accounts, whale):
    """Deposit-before-profit sandwich: the redeem delay keeps the LP's shares in the book."""
    lp2 = accounts[2]
    fund(vsys, lp2, usdc=100_000)
    shares = vsys.vault.deposit(100_000 * 10**6, {"from": lp2}).return_value
    rid = vsys.vault.requestRedeem(shares, {"from": lp2}).return_value
    set_price(vsys, WETH, 2_100)  # the whale gains $40k against the vault while the redemption waits
    wait_redeem_delay()
    set_price(vsys, WETH, 2_100)
    set_price(vsys, USDC, 1)
    paid = vsys.vault.executeRedeem(rid, {"from": lp2}).events["VaultRedeemed"]["assets"]
    assert paid < 100_000 * 10**6 - 10_000 * 10**6  # lost its third of ~$40k open trader profit


def test_inflation_attack_does_not_pay(vsys, accounts, gov, LPVault):
    """First depositor deposits 1 unit, donates $10k to the vault's account, victim deposits $10k."""
    fresh = LPVault.deploy(gov, vsys.ledger, vsys.engine, USDC, DAY, MAX_PNL_FACTOR, {"from": gov})
    vsys.ledger.grantRole(MARGIN_ROLE, fresh, {"from": gov})
    attacker, victim = accounts[2], accounts[3]
    fund(vsys, attacker, usdc=1)
    fund(vsys, victim, usdc=10_000)
    fresh.deposit(1, {"from": attacker})
    fund(vsys, fresh, usdc=10_000)  # the donation, through the deposit route
    fresh.deposit(10_000 * 10**6, {"from": victim})
    assert value_of(fresh, fresh.sharesOf(victim)) > 9_999 * E18
    assert value_of(fresh, fresh.sharesOf(attacker)) < E18  # the donation went to the virtual holder


def test_deposit_needs_fresh_prices(vsys, accounts):
    fund(vsys, accounts[2], usdc=1_000)
    chain.sleep(DAY + 1)
    chain.mine()
    with reverts_with("VaultPricesNotFresh"):
        vsys.vault.deposit(10**6, {"from": accounts[2]})


def test_max_pnl_factor_stops_redemptions_and_allows_adl(vsys, whale, accounts):
    set_price(vsys, WETH, 2_300)  # +$120k open profit > 50 % of the vault's $200k
    assert vsys.vault.tradersPnl() > 100_000 * E18
    assert vsys.vault.pnlFactorExceeded() and vsys.vault.needsDeleverage()
    assert vsys.vault.equity() > 0
    rid = vsys.vault.requestRedeem(10_000 * E18, {"from": vsys.lp}).return_value
    wait_redeem_delay()
    set_price(vsys, WETH, 2_300)
    set_price(vsys, USDC, 1)
    with reverts_with("VaultRedemptionLeavesVaultUnderMargin"):
        vsys.vault.executeRedeem(rid, {"from": vsys.lp})
    vsys.eth.commitOrder(-400 * E18, 0, {"from": whale})  # a close sized on the whole position
    tx = vsys.adl.deleverage(vsys.eth, whale, 200 * E18, {"from": accounts[4]})
    assert tx.events["Deleveraged"]["closeSize"] == 200 * E18
    canceled = tx.events["OrderCanceled"]  # void: it would now open a 200 ETH short
    assert (canceled["account"], canceled["reason"], canceled["escrowTo"]) == (whale, 4, whale)
    assert vsys.eth.orders(whale)[4] == 0
    assert not vsys.vault.pnlFactorExceeded()
    with reverts_with("AdlNotNeeded"):
        vsys.adl.deleverage(vsys.eth, whale, 1, {"from": accounts[4]})
    vsys.vault.executeRedeem(rid, {"from": vsys.lp})  # the redemption goes through once ADL ran


def test_adl_only_closes_profitable_positions_in_vault_markets(vsys, whale, accounts):
    loser = accounts[2]
    fund(vsys, loser, usdc=50_000)
    open_position(vsys.eth, loser, -10 * E18)
    set_price(vsys, WETH, 2_300)
    with reverts_with("AdlPositionNotProfitable"):
        vsys.adl.deleverage(vsys.eth, loser, 10 * E18, {"from": accounts[4]})
    with reverts_with("AdlMarketInvalid"):
        vsys.adl.deleverage(vsys.liq, whale, 1, {"from": accounts[4]})


def test_squeeze_fires_a_rule_before_the_vault_reaches_zero(vsys, whale, accounts):
    """Scenario 6: the price climbs 1 % a round; ADL becomes allowed while equity is still positive,
    and once deleveraged the winner withdraws its profit while the vault stays solvent."""
    price, fired_at = 2_000.0, None
    while fired_at is None:
        price *= 1.01
        set_price(vsys, WETH, price)
        if vsys.vault.needsDeleverage():
            fired_at = price
        assert vsys.vault.equity() > 0, "vault equity reached zero before any rule fired"
    assert vsys.vault.equity() > 0
    vsys.adl.deleverage(vsys.eth, whale, 400 * E18, {"from": accounts[4]})
    assert not vsys.vault.needsDeleverage()
    profit = vsys.ledger.usdBalanceOf(whale)
    assert profit > 0
    vsys.settlement.settle(whale, {"from": whale})
    assert vsys.ledger.balanceOf(whale, USDC) == 80_000 * 10**6 + profit // UNIT
    assert vsys.vault.equity() > 0


def test_open_interest_is_capped_relative_to_the_vault(vsys, accounts, gov):
    """maxOiToVault (GMX v2 reserve factor): the larger side's notional <= factor x vault equity,
    checked whenever the larger side grows (also by a fill that flips the skew while shrinking it);
    deposits raise the cap; reducing is never refused."""
    eth, long_, short_, lp2 = vsys.eth, accounts[1], accounts[2], accounts[3]
    eth.setParams(vsys.eth_params.model_copy(update={"max_oi_to_vault": E18}).as_tuple(), {"from": gov})  # 1x
    fund(vsys, long_, usdc=100_000)
    fund(vsys, short_, usdc=100_000)
    open_position(eth, long_, 90 * E18)  # $180k <= $200k
    with reverts_with("MarketOpenInterestExceedsVaultCap"):
        open_position(eth, long_, 15 * E18)  # 105 ETH = $210k
    open_position(eth, short_, -95 * E18)  # shrinks the skew; larger side 95 ETH = $190k
    with reverts_with("MarketOpenInterestExceedsVaultCap") as exc:
        open_position(eth, short_, -75 * E18)  # |skew| 5 -> 80 ETH, short side $340k
    assert "340000" + "0" * 18 in exc.value.revert_msg  # the refused notional, 1e18 USD
    assert eth.shortOpenInterest() == 95 * E18
    fund(vsys, lp2, usdc=100_000)
    vsys.vault.deposit(100_000 * 10**6, {"from": lp2})  # vault ~$300k: the cap follows its equity
    open_position(eth, long_, 15 * E18)
    set_price(vsys, WETH, 3_000)  # the long side is now $315k notional, over the cap ...
    open_position(eth, long_, -5 * E18)  # ... and reducing still fills
    assert eth.longOpenInterest() == 100 * E18
