"""LiquidationModule: rejected inputs, partial/full closes, the deficit waterfall, invariants."""

import random

import pytest
from brownie import chain
from brownie.exceptions import VirtualMachineError
from margin_support import (
    DAY,
    LIQ_PARAMS,
    ORDER_MIN_DELAY,
    SETTLEMENT_REWARD,
    USDC,
    WBTC,
    WETH,
    fund,
    publish_round,
    set_price,
    trade,
)
from margin_helpers import E18, MARGIN_ROLE, reverts_with
from relayer.margin.liquidation import collateral_sale, liquidation_notional, reward_and_penalty

MAX = 2**256 - 1


@pytest.fixture
def trader(accounts, system):
    """10k USDC, long 80 ETH at 2000 (IM 9280, MM 4640)."""
    fund(system, accounts[1], usdc=10_000)
    trade(system, system.eth, 80 * E18, MAX, accounts[1])
    return accounts[1]


def surplus(system, a):
    h = system.engine.health(a)
    return h["equity"] - h["maintenanceMargin"]


def usd_sum(system, accounts):
    return sum(system.ledger.usdBalanceOf(a) for a in accounts)


def test_healthy_account_cannot_be_liquidated(system, trader, liquidator):
    with reverts_with("LiquidationAccountHealthy"):
        system.liq.liquidate(trader, 0, {"from": liquidator})
    set_price(system, WETH, 1_940)  # lower but still above MM
    with reverts_with("LiquidationAccountHealthy"):
        system.liq.liquidate(trader, MAX, {"from": liquidator})


def test_account_without_anything_is_healthy(system, accounts, liquidator):
    with reverts_with("LiquidationAccountHealthy"):
        system.liq.liquidate(accounts[4], 0, {"from": liquidator})


def test_liquidation_waits_for_fresh_prices(system, trader, liquidator):
    set_price(system, WETH, 1_900)
    chain.sleep(DAY + 1)
    chain.mine()
    with reverts_with("LiquidationPricesNotFresh"):
        system.liq.liquidate(trader, 0, {"from": liquidator})


def test_pool_and_insurance_are_protected(system, liquidator):
    for a in (system.pool, system.insurance):
        with reverts_with("LiquidationAccountProtected"):
            system.liq.liquidate(a, 0, {"from": liquidator})


def test_partial_liquidation_restores_health(system, trader, liquidator):
    set_price(system, WETH, 1_920)
    assert system.engine.isLiquidatable(trader)
    before = surplus(system, trader)
    tx = system.liq.liquidate(trader, 0, {"from": liquidator})
    ev = tx.events["Liquidated"]
    assert not ev["full"] and ev["closedNotional"] == 40 * 1_920 * E18
    assert ev["reward"] == 768 * E18 and ev["penalty"] == 384 * E18
    released = 4_454_400 * E18 // 1_000 - 2_073_600 * E18 // 1_000  # MM of 80 ETH minus MM of 40 ETH at 1920
    mirror = reward_and_penalty(liquidation_notional(40 * E18, 1_920 * E18), released, LIQ_PARAMS[2 - 1], LIQ_PARAMS[2])
    assert (ev["reward"], ev["penalty"]) == mirror
    assert system.eth.positions(trader)[0] == 40 * E18
    assert not system.engine.isLiquidatable(trader)
    assert surplus(system, trader) >= before
    assert system.ledger.usdBalanceOf(liquidator) == 768 * E18


def test_full_liquidation_then_collateral_sale_then_insurance(system, trader, liquidator, accounts):
    everyone = [trader, liquidator, system.pool, system.insurance]
    set_price(system, WETH, 1_860)  # equity -$1,360: no fee can be paid, the deficit needs insurance
    before = surplus(system, trader)
    ins_before = system.engine.health(system.insurance)["equity"]
    tx = system.liq.liquidate(trader, MAX, {"from": liquidator})
    assert [e["full"] for e in tx.events["Liquidated"]] == [False, True]
    assert system.eth.positions(trader)[0] == 0
    sold = tx.events["CollateralSold"][0]
    assert sold["assetId"] == USDC and sold["amount"] == 10_000 * 10**6  # USDC weight 100 %: sold at par
    assert sold["repaid"] == 10_000 * E18
    used = tx.events["InsuranceUsed"][0]["amount"]
    assert used > 0 and "LossSocialised" not in tx.events and "BadDebtRecorded" not in tx.events
    assert system.ledger.usdBalanceOf(trader) == 0 and system.ledger.balanceOf(trader, USDC) == 0
    assert surplus(system, trader) >= before
    assert system.engine.health(system.insurance)["equity"] < ins_before
    assert usd_sum(system, everyone) == system.ledger.badDebt() == 0


def test_collateral_sold_at_discount_capped_by_haircut(system, accounts, liquidator):
    t = accounts[2]
    fund(system, t, weth=5)  # 9000 USD weighted
    trade(system, system.eth, -70 * E18, 0, t)  # short 70 ETH: IM 8,120
    set_price(system, WETH, 2_160)  # equity -$1,620
    assert system.engine.isLiquidatable(t)
    before = surplus(system, t)
    tx = system.liq.liquidate(t, MAX, {"from": liquidator})
    sale = tx.events["CollateralSold"][0]
    # 5 % discount (< 10 % haircut): liquidator pays 95 % of 2130 per ETH
    assert sale["assetId"] == WETH
    assert abs(sale["repaid"] * E18 // sale["amount"] - 2_160 * E18 * 95 // 100) <= 1
    assert surplus(system, t) >= before


def test_liquidator_must_afford_the_collateral(system, accounts, liquidator):
    """WETH bought at 5 % off is worth only 90 % as margin: a buyer with no margin of its own ends
    with negative equity and is refused; positions-only liquidation needs no margin."""
    t, poor = accounts[2], accounts[4]
    fund(system, t, weth=5)
    trade(system, system.eth, -70 * E18, 0, t)
    set_price(system, WETH, 2_160)
    system.liq.liquidate(t, 0, {"from": liquidator})  # positions only
    assert system.eth.positions(t)[0] == 0 and system.engine.isLiquidatable(t)
    with reverts_with("LiquidatorBelowInitialMargin"):
        system.liq.liquidate(t, MAX, {"from": poor})
    deficit = -system.ledger.usdBalanceOf(t)
    bal = system.ledger.balanceOf(t, WETH)
    tx = system.liq.liquidate(t, MAX, {"from": liquidator})
    expected = collateral_sale(bal, 18, 2_160 * E18, 9_000, LIQ_PARAMS[3], deficit)
    sale = tx.events["CollateralSold"][0]
    assert (sale["amount"], sale["repaid"]) == (expected.amount, expected.repay)  # Python mirror
    assert not system.engine.isLiquidatable(t)


def test_empty_insurance_socialises_to_pool_then_writes_off(system, accounts, liquidator, gov, LiquidationModule):
    t = accounts[2]
    fund(system, t, usdc=10_000)
    trade(system, system.eth, 80 * E18, MAX, t)
    system.ledger.setInsuranceFund(accounts[7], {"from": gov})  # empty fund
    set_price(system, WETH, 1_600)
    tx = system.liq.liquidate(t, MAX, {"from": liquidator})
    penalties = sum(e["penalty"] for e in tx.events["Liquidated"])
    assert penalties == 0  # the equity was negative: no fee is taken (scenario 7)
    assert "InsuranceUsed" not in tx.events  # the empty fund has nothing to give
    soc = tx.events["LossSocialised"][0]
    assert soc["pool"] == system.pool and soc["amount"] > 0
    assert system.ledger.badDebt() == 0

    # a module whose LP pool has no free margin must write the deficit off as bad debt
    t2 = accounts[3]
    fund(system, t2, usdc=10_000)
    trade(system, system.eth, 80 * E18, MAX, t2)
    broke_pool = accounts[4]
    liq2 = LiquidationModule.deploy(gov, system.ledger, system.engine, system.oracle, broke_pool, LIQ_PARAMS,
                                    {"from": gov})
    system.ledger.grantRole(MARGIN_ROLE, liq2, {"from": gov})
    for m in (system.eth, system.btc):  # a liquidation module needs the role of every market
        m.grantRole(m.LIQUIDATOR_ROLE(), liq2, {"from": gov})
    set_price(system, WETH, 1_300)
    tx = liq2.liquidate(t2, MAX, {"from": liquidator})
    written = tx.events["BadDebtRecorded"][0]["amount"]
    assert written > 0 and system.ledger.badDebt() == written
    assert system.ledger.usdBalanceOf(t2) == 0
    everyone = [t, t2, liquidator, system.pool, system.insurance, accounts[7], broke_pool]
    assert usd_sum(system, everyone) == system.ledger.badDebt()


LIQUIDATED = 4  # PerpOrders.CancelReason.Liquidated


def test_an_order_committed_before_a_liquidation_never_settles_after_it(system, trader, liquidator):
    """The trader commits a close of all 80 ETH and a BTC long; the liquidation (partial: 40 ETH
    remain) cancels both, escrow back to the account, so the close cannot fill afterwards as a
    40 ETH short (nor the BTC long on the margin the liquidation took)."""
    market, btc = system.eth, system.btc
    market.commitOrder(-80 * E18, 0, {"from": trader})
    btc.commitOrder(E18 // 10, MAX, {"from": trader})
    usd_before = system.ledger.usdBalanceOf(trader)
    set_price(system, WETH, 1_920)
    tx = system.liq.liquidate(trader, 0, {"from": liquidator})
    assert market.positions(trader)[0] == 40 * E18  # partly liquidated
    canceled = tx.events["OrderCanceled"]
    assert [(e.address, e["account"], e["reason"], e["escrowTo"]) for e in canceled] == [
        (market.address, trader, LIQUIDATED, trader), (btc.address, trader, LIQUIDATED, trader)]
    assert market.orders(trader)[4] == 0 and btc.orders(trader)[4] == 0
    ev, realized = tx.events["Liquidated"][0], tx.events["PositionModified"][0]["realizedPnl"]
    expected = usd_before + 2 * SETTLEMENT_REWARD + realized - ev["reward"] - ev["penalty"]
    assert system.ledger.usdBalanceOf(trader) == expected
    chain.sleep(ORDER_MIN_DELAY)
    for m in (market, btc):
        rid = publish_round(system, m)
        with reverts_with("OrderNotFound"):
            m.settleOrder(trader, rid, {"from": liquidator})
    assert market.positions(trader)[0] == 40 * E18 and btc.positions(trader)[0] == 0
    market.commitOrder(-40 * E18, 0, {"from": trader})  # the trader may order again at once


def test_only_a_liquidator_cancels_orders(system, trader, accounts):
    system.eth.commitOrder(-E18, 0, {"from": trader})
    with reverts_with("AccessControlUnauthorizedAccount"):
        system.eth.cancelOrderForLiquidation(trader, {"from": accounts[4]})
    assert system.eth.orders(trader)[4] != 0


@pytest.mark.parametrize("params", [(0, 1, 1, 1), (E18 + 1, 1, 1, 1), (E18 // 2, E18, 1, 1), (E18 // 2, 1, E18, 1),
                                    (E18 // 2, 1, 1, E18)])
def test_params_rejected_out_of_bounds(system, gov, params):
    with reverts_with("LiquidationParamsInvalid"):
        system.liq.setParams(params, {"from": gov})


def test_params_need_governor(system, accounts):
    with reverts_with("AccessControlUnauthorizedAccount"):
        system.liq.setParams(LIQ_PARAMS, {"from": accounts[3]})


def test_invariants_under_random_trading_crashes_and_liquidations(system, accounts, liquidator):
    """Handler-style: seeded random trades, price shocks and liquidation attempts on EVERY account.
    After each step: zero-sum USD (sum == bad debt), healthy accounts are never liquidated, a
    liquidation never lowers equity - MM, and every revert seen is justified."""
    rng = random.Random(11)
    traders = accounts[1:5]
    for t in traders:
        fund(system, t, usdc=rng.randint(2_000, 20_000), weth=rng.choice([0, 1, 3]))
    everyone = list(traders) + [liquidator, system.pool, system.insurance]
    prices = {WETH: 2_000.0, WBTC: 30_000.0}
    liquidations = 0
    for step in range(14):
        t = rng.choice(traders)
        m = rng.choice([system.eth, system.btc])
        price = prices[WETH if m == system.eth else WBTC]
        h = system.engine.health(t)
        lev = rng.uniform(2, 18)
        delta = int(max(h["equity"], 0) * lev / price) * rng.choice([1, -1])
        if delta:
            try:
                trade(system, m, delta, MAX if delta > 0 else 0, t)
            except VirtualMachineError as err:
                assert err.revert_msg.startswith("MarketAccountBelowInitialMargin"), err.revert_msg
        for asset in prices:
            prices[asset] *= rng.uniform(0.88, 1.1)
            set_price(system, asset, prices[asset])
        chain.sleep(rng.randint(60, 3_600))
        for a in traders:
            liquidatable = system.engine.isLiquidatable(a)
            before = surplus(system, a)
            if not liquidatable:
                with reverts_with("LiquidationAccountHealthy"):
                    system.liq.liquidate(a, MAX, {"from": liquidator})
                continue
            system.liq.liquidate(a, MAX, {"from": liquidator})
            liquidations += 1
            assert surplus(system, a) >= before
        assert usd_sum(system, everyone) == system.ledger.badDebt()
    assert liquidations > 0  # the seed must exercise the liquidation path
