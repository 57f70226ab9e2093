"""PerpMarket: trading at the oracle price, fees, funding, caps, pool solvency, freshness policy."""

import brownie
import pytest
from brownie import chain, web3
from margin_support import (
    SETTLEMENT_REWARD, close, trade, BTC_PARAMS, DAY, ETH_PARAMS, USDC, WBTC, WETH, fund, set_price,
)
from margin_helpers import E18, MARGIN_ROLE, reverts_with
from relayer.margin import funding_delta, funding_rate, margins, pnl

MAX = 2**256 - 1


@pytest.fixture
def alice(accounts, system):
    fund(system, accounts[1], usdc=10_000)
    return accounts[1]


@pytest.fixture
def bob(accounts, system):
    fund(system, accounts[2], usdc=10_000)
    return accounts[2]


def usd(system, a):
    return system.ledger.usdBalanceOf(a)


def test_open_long_charges_fee_to_pool_and_records_position(system, alice):
    tx = trade(system, system.eth, 2 * E18, MAX, alice)
    ev = tx.events["PositionModified"]
    assert (ev["sizeDelta"], ev["newSize"], ev["price"], ev["fee"]) == (2 * E18, 2 * E18, 2_000 * E18, 4 * E18)
    assert usd(system, alice) == -4 * E18 and usd(system, system.pool) == 4 * E18
    assert system.eth.positions(alice)[0] == 2 * E18
    assert system.eth.longOpenInterest() == 2 * E18 and system.eth.skew() == 2 * E18


def test_close_realizes_pnl_against_pool_zero_sum(system, alice, bob):
    # No funding in this test, so the realized PnL and fees are exact although orders take time.
    system.eth.setParams(ETH_PARAMS.model_copy(update={"max_funding_rate": 0}).as_tuple(), {"from": system.gov})
    trade(system, system.eth, 3 * E18, MAX, alice)
    trade(system, system.eth, -1 * E18, 0, bob)
    set_price(system, WETH, 2_100)
    close(system, system.eth, alice)
    close(system, system.eth, bob)
    fee_a = 6 * E18 + 63 * E18 // 10  # 0.1 % of 6000 then of 6300
    fee_b = 2 * E18 + 21 * E18 // 10
    assert usd(system, alice) == 300 * E18 - fee_a
    assert usd(system, bob) == -100 * E18 - fee_b
    assert usd(system, alice) + usd(system, bob) + usd(system, system.pool) == 0
    assert system.eth.longOpenInterest() == 0 and system.eth.shortOpenInterest() == 0


def test_flip_from_long_to_short_is_risk_increasing(system, alice):
    trade(system, system.eth, E18, MAX, alice)
    chain.sleep(DAY + 1)
    chain.mine()  # price stale: a flip opens new exposure and needs a fresh price
    with reverts_with("OraclePriceStale"):
        trade(system, system.eth, -2 * E18, 0, alice)
    trade(system, system.eth, -E18 // 2, 0, alice)  # a reduction settles at the next published round
    close(system, system.eth, alice)
    assert system.eth.positions(alice)[0] == 0


def test_open_with_invalid_price_reverts_and_close_waits_for_a_valid_round(system, alice):
    trade(system, system.eth, E18, MAX, alice)
    set_price(system, WETH, 0)  # invalid round
    with reverts_with("OraclePriceInvalid"):
        trade(system, system.eth, E18, MAX, alice)
    with reverts_with("OrderSettlementPriceInvalid"):
        close(system, system.eth, alice)  # the next round is invalid too: nothing fills at it
    set_price(system, WETH, 2_000)
    # the unusable round still lies in the walk from the last good price: getPrice reports Invalid
    # and no later round is valid either (D31), until governance resolves (or a keeper's syncFeed
    # latches it and governance resolves)
    assert tuple(system.oracle.getPrice(WETH))[2] == 2  # Invalid
    with reverts_with("OrderSettlementPriceInvalid"):
        close(system, system.eth, alice)
    system.oracle.resolveFeed(WETH, {"from": system.gov})
    close(system, system.eth, alice)
    assert system.eth.positions(alice)[0] == 0


def test_initial_margin_enforced_on_increase(system, alice):
    # 10k USDC at 20x base leverage: ~100 ETH at 2000 (IMF grows with size)
    with reverts_with("MarketAccountBelowInitialMargin"):
        trade(system, system.eth, 100 * E18, MAX, alice)
    trade(system, system.eth, 80 * E18, MAX, alice)
    h = system.engine.health(alice)
    assert h["equity"] >= h["initialMargin"]


def test_margin_fraction_grows_with_size(system):
    p = ETH_PARAMS
    im_small, _ = margins(E18, 2_000 * E18, p.imf_base, p.imf_slope, p.mm_ratio)
    im_big, mm_big = margins(1_000 * E18, 2_000 * E18, p.imf_base, p.imf_slope, p.mm_ratio)
    assert im_big * E18 // (1_000 * 2_000 * E18) > im_small * E18 // (2_000 * E18)
    assert mm_big == -(-im_big * p.mm_ratio // E18)


def test_price_limit_cancels_the_order_and_pays_the_keeper(system, alice, accounts):
    keeper = accounts[7]
    for delta, limit in ((E18, 1_999 * E18), (-E18, 2_001 * E18)):
        tx = trade(system, system.eth, delta, limit, alice, keeper=keeper)
        assert tx.events["OrderCanceled"]["reason"] == 1  # PriceLimit
        assert "PositionModified" not in tx.events
    assert system.eth.positions(alice)[0] == 0
    assert usd(system, keeper) == 2 * SETTLEMENT_REWARD and usd(system, alice) == -2 * SETTLEMENT_REWARD


def test_rejects_zero_size_pool_trading_and_empty_close(system, alice):
    with reverts_with("MarketSizeDeltaZero"):
        trade(system, system.eth, 0, MAX, alice)
    with reverts_with("MarketPoolCannotTrade"):
        trade(system, system.eth, E18, MAX, system.pool)
    with reverts_with("MarketSizeDeltaZero"):
        close(system, system.eth, alice)  # no position: nothing to close


def test_open_interest_cap(system, accounts, gov):
    whale = accounts[3]
    fund(system, whale, usdc=5_000_000)
    params = list(ETH_PARAMS.as_tuple())
    params[6] = 10 * E18
    system.eth.setParams(params, {"from": gov})
    trade(system, system.eth, 10 * E18, MAX, whale)
    with reverts_with("MarketOpenInterestCapExceeded"):
        trade(system, system.eth, E18, MAX, whale)
    trade(system, system.eth, -20 * E18, 0, whale)  # 10 short is within the cap
    with reverts_with("MarketOpenInterestCapExceeded"):
        trade(system, system.eth, -E18, 0, whale)


def test_pool_must_stay_above_initial_margin_when_skew_grows(system, accounts, gov, PerpMarket, pool):
    small_pool = accounts[7]
    fund(system, small_pool, usdc=1_000)
    loose_cap = ETH_PARAMS.model_copy(update={"max_oi_to_vault": 100 * E18})  # the pool's IM binds first
    m = PerpMarket.deploy(gov, system.ledger, system.oracle, system.engine, WETH, small_pool,
                          loose_cap.as_tuple(), {"from": gov})
    system.engine.addMarket(m, {"from": gov})
    system.ledger.grantRole(MARGIN_ROLE, m, {"from": gov})
    trader, other = accounts[1], accounts[2]
    fund(system, trader, usdc=100_000)
    fund(system, other, usdc=100_000)
    with reverts_with("MarketPoolBelowInitialMargin"):
        trade(system, m, 20 * E18, MAX, trader)  # pool would carry -20 ETH on 1k USDC
    trade(system, m, 5 * E18, MAX, trader)
    trade(system, m, -5 * E18, 0, other)  # skew back to 0: always allowed
    assert m.skew() == 0


def test_pool_margin_is_checked_when_a_flip_grows_the_skew_but_not_the_larger_side(system, accounts, gov,
                                                                                     PerpMarket):
    """Long 24 (a 12 + c 12) vs short 23.5: a's flip from long 12 to short 0.5 leaves the larger side
    at 24 but takes |skew| from 0.5 to 12 ETH, beyond what the $1k pool can margin."""
    small_pool = accounts[7]
    fund(system, small_pool, usdc=1_000)
    loose_cap = ETH_PARAMS.model_copy(update={"max_oi_to_vault": 100 * E18})
    m = PerpMarket.deploy(gov, system.ledger, system.oracle, system.engine, WETH, small_pool,
                          loose_cap.as_tuple(), {"from": gov})
    system.engine.addMarket(m, {"from": gov})
    system.ledger.grantRole(MARGIN_ROLE, m, {"from": gov})
    a, b, c = accounts[1], accounts[2], accounts[3]
    for t in (a, b, c):
        fund(system, t, usdc=100_000)
    for t, size in ((a, 9), (b, -9), (c, 9), (b, -9), (a, 3), (c, 3), (b, -5.5)):  # |skew| stays <= 9
        trade(system, m, int(size * E18), MAX if size > 0 else 0, t)
    assert (m.longOpenInterest(), m.shortOpenInterest()) == (24 * E18, int(23.5 * E18))
    with reverts_with("MarketPoolBelowInitialMargin"):
        trade(system, m, int(-12.5 * E18), 0, a)


def test_funding_accrues_from_skew_and_matches_mirror(system, alice, bob):
    trade(system, system.eth, 40 * E18, MAX, alice)
    trade(system, system.eth, -10 * E18, 0, bob)
    skew = 30 * E18
    rate = funding_rate(skew, ETH_PARAMS.skew_scale, ETH_PARAMS.max_funding_rate)
    assert system.eth.currentFundingRate() == rate > 0
    t0 = system.eth.lastFundingTime()
    idx0 = system.eth.fundingIndex()
    chain.sleep(3_600 * 8)
    chain.mine()
    set_price(system, WETH, 2_000)  # fresh round, same price
    tx = system.eth.accrueFunding({"from": alice})
    elapsed = tx.timestamp - t0
    assert system.eth.fundingIndex() == idx0 + funding_delta(rate, 2_000 * E18, elapsed)
    st = system.eth.marginState(alice)
    pos = system.eth.positions(alice)
    assert st["pnl"] == pnl(40 * E18, 2_000 * E18, pos[1], system.eth.fundingIndex(), pos[2]) < 0  # long pays
    assert system.eth.marginState(bob)["pnl"] > 0  # short receives


def test_pool_state_mirrors_traders(system, alice, bob):
    trade(system, system.eth, 5 * E18, MAX, alice)
    trade(system, system.eth, -2 * E18, 0, bob)
    set_price(system, WETH, 1_900)
    chain.sleep(3_600)
    set_price(system, WETH, 1_950)
    st_pool = system.eth.marginState(system.pool)
    traders = system.eth.marginState(alice)["pnl"] + system.eth.marginState(bob)["pnl"]
    assert st_pool["size"] == -3 * E18
    assert abs(st_pool["pnl"] + traders) <= 2  # rounding of the aggregate only


def test_liquidation_close_needs_role_and_valid_size(system, alice, accounts):
    web3.provider.make_request("anvil_impersonateAccount", [system.liq.address])  # the module's own address
    liq = accounts.at(system.liq.address, force=True)
    trade(system, system.eth, E18, MAX, alice)
    with reverts_with("AccessControlUnauthorizedAccount"):
        system.eth.liquidationClose(alice, E18, {"from": alice})
    for bad in (0, 2 * E18):
        with reverts_with("MarketCloseSizeInvalid"):
            system.eth.liquidationClose(alice, bad, {"from": liq})


@pytest.mark.parametrize("index,value", [(0, E18 // 5), (1, 0), (1, E18 + 1), (3, 0), (3, E18), (4, 2 * E18),
                                         (5, 0), (6, 0), (7, 0), (2, 2**128), (5, 2**128), (6, 2**128),
                                         (7, 2**128)])
def test_params_rejected_out_of_bounds(system, gov, index, value):
    params = list(ETH_PARAMS.as_tuple())
    params[index] = value
    with reverts_with("MarketParamsInvalid"):
        system.eth.setParams(params, {"from": gov})


def test_params_need_governor(system, alice):
    with reverts_with("AccessControlUnauthorizedAccount"):
        system.eth.setParams(BTC_PARAMS.as_tuple(), {"from": alice})


def test_params_read_back_as_set_at_the_packed_bounds(system, gov):
    """The parameters are stored packed (three slots): the largest accepted values read back exactly."""
    params = list(ETH_PARAMS.as_tuple())
    params[0], params[1], params[3], params[4] = E18 // 10, E18, E18 - 1, E18  # fee, imfBase, mmRatio, funding
    params[2] = params[5] = params[6] = params[7] = 2**128 - 1
    system.eth.setParams(params, {"from": gov})
    assert list(system.eth.params()) == params
