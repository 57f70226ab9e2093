"""Liquidation economics (issue 8, scenarios 7 and 8): keeper reward + penalty never exceed the
equity left, and every collateral, weight 0 included, is sold or seized before insurance pays."""

import pytest
from brownie import chain

from margin_helpers import E18, MAX_UINT, open_position
from margin_support import DAY, SPOKE, TOKENS, USDC, WBTC, WETH, fund, set_price

NO_FEED = 4
TOKENS[NO_FEED] = ("0x" + "44" * 20, 18)  # a listed token the oracle has no feed for
DOUBTFUL_BPS = 5_000  # RiskEngine.DOUBTFUL_BPS


@pytest.fixture
def keeper(accounts, vsys):
    fund(vsys, accounts[5], usdc=100_000)
    return accounts[5]


def test_fees_cannot_turn_positive_equity_into_a_deficit(vsys, accounts, keeper):
    """Scenario 7: +$352 of equity used to end at -$416 paid by the insurance fund."""
    trader = accounts[1]
    fund(vsys, trader, usdc=10_000)
    open_position(vsys.eth, trader, 80 * E18)
    set_price(vsys, WETH, 1_881.4)
    equity = vsys.engine.health(trader)["equity"]
    assert 300 * E18 < equity < 400 * E18
    ins_usd = vsys.ledger.usdBalanceOf(vsys.insurance)
    tx = vsys.liq.liquidate(trader, 0, {"from": keeper})
    assert not vsys.engine.health(trader)["hasPositions"]
    paid = sum(ev["reward"] + ev["penalty"] for ev in tx.events["Liquidated"])
    assert 0 < paid <= equity
    after = vsys.engine.health(trader)["equity"]
    assert after >= 0
    assert "InsuranceUsed" not in tx.events and "BadDebtRecorded" not in tx.events
    assert vsys.ledger.usdBalanceOf(vsys.insurance) >= ins_usd
    assert vsys.ledger.badDebt() == 0


def test_weight_zero_collateral_is_sold_before_insurance_pays(vsys, accounts, keeper, gov):
    """Scenario 8: insurance paid $1,410 while the account kept 5 ETH (weight 0) and withdrew it."""
    trader = accounts[1]
    fund(vsys, trader, weth=5)
    open_position(vsys.eth, trader, 40 * E18)
    vsys.ledger.setCollateralParams(WETH, 0, 0, {"from": gov})  # emergency setting
    set_price(vsys, WETH, 1_950)
    deficit = -vsys.ledger.usdBalanceOf(trader) + 2_000 * E18  # fee so far + the 40 x $50 loss
    tx = vsys.liq.liquidate(trader, 0, {"from": keeper})
    assert "InsuranceUsed" not in tx.events
    sold = tx.events["CollateralSold"]
    assert sold["liquidator"] == vsys.insurance and sold["assetId"] == WETH
    assert sold["repaid"] >= deficit - E18  # the whole deficit repaid by the sale
    assert sold["amount"] * 1_950 >= sold["repaid"]  # insurance bought below the oracle price
    assert vsys.ledger.usdBalanceOf(trader) == 0
    assert vsys.ledger.balanceOf(trader, WETH) == 5 * E18 - sold["amount"]
    assert vsys.ledger.badDebt() == 0


def test_liquidator_may_buy_weight_zero_collateral(vsys, accounts, keeper, gov):
    trader = accounts[1]
    fund(vsys, trader, weth=5)
    open_position(vsys.eth, trader, 40 * E18)
    vsys.ledger.setCollateralParams(WETH, 0, 0, {"from": gov})
    set_price(vsys, WETH, 1_950)
    tx = vsys.liq.liquidate(trader, MAX_UINT, {"from": keeper})
    assert tx.events["CollateralSold"]["liquidator"] == keeper
    assert "InsuranceUsed" not in tx.events
    assert vsys.ledger.usdBalanceOf(trader) == 0


def test_stale_weight_zero_collateral_is_sold_at_its_doubtful_value_before_insurance_pays(vsys, accounts, keeper, gov):
    """Oracle policy x waterfall: a stale collateral is sold at 50 % of its last good price (less the
    discount), never left with the account nor blocking the liquidation; insurance pays only after."""
    trader = accounts[1]
    fund(vsys, trader, usdc=3_000, wbtc=0.2)  # 0.2 BTC x $30k x 90 % = $5,400 of margin
    open_position(vsys.eth, trader, 40 * E18)
    vsys.ledger.setCollateralParams(WBTC, 0, 0, {"from": gov})
    chain.sleep(DAY + 1)  # the BTC feed goes stale
    set_price(vsys, WETH, 1_850)
    set_price(vsys, USDC, 1)
    tx = vsys.liq.liquidate(trader, MAX_UINT, {"from": keeper})
    names = [ev.name for ev in tx.events]
    assert "CollateralSeized" not in names
    sale = [ev for ev in tx.events["CollateralSold"] if ev["assetId"] == WBTC][0]
    assert sale["liquidator"] == keeper and sale["amount"] == 2 * 10**7
    doubtful = 30_000 * E18 * DOUBTFUL_BPS // 10_000
    assert abs(sale["repaid"] * 10**8 // sale["amount"] - doubtful * 95 // 100) <= 10**8
    assert names.index("CollateralSold") < names.index("InsuranceUsed")  # the -$3,080 deficit exceeds $2,850
    assert vsys.ledger.balanceOf(trader, WBTC) == 0 and vsys.ledger.balanceOf(trader, USDC) == 0
    assert vsys.ledger.usdBalanceOf(trader) == 0


def test_unpriced_weight_zero_collateral_is_seized_before_insurance_pays(vsys, accounts, keeper, gov):
    """An asset listed without any oracle feed cannot be sold: the insurance fund seizes it (at zero
    value) before it pays."""
    trader = accounts[1]
    vsys.ledger.listAsset(NO_FEED, "NOFEED", 18, {"from": gov})  # weight 0, no feed
    vsys.ledger.listToken(SPOKE, TOKENS[NO_FEED][0], NO_FEED, 18, {"from": gov})
    fund(vsys, trader, usdc=5_000)
    vsys.funder.deposit([(trader, NO_FEED, 7 * E18)])
    open_position(vsys.eth, trader, 40 * E18)
    set_price(vsys, WETH, 1_850)
    tx = vsys.liq.liquidate(trader, MAX_UINT, {"from": keeper})
    names = [ev.name for ev in tx.events]
    assert "CollateralSeized" in names and "InsuranceUsed" in names
    assert names.index("CollateralSeized") < names.index("InsuranceUsed")
    assert vsys.ledger.balanceOf(trader, NO_FEED) == 0
    assert vsys.ledger.balanceOf(vsys.insurance, NO_FEED) == 7 * E18
    assert vsys.ledger.balanceOf(trader, USDC) == 0  # USDC netted first
    assert vsys.ledger.usdBalanceOf(trader) == 0
