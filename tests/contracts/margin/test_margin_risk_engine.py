"""RiskEngine: equity / IM / MM against the Python mirror, freshness policy, ledger withdrawals."""

import random

import pytest
from brownie import ZERO_ADDRESS, chain
from margin_support import (
    close, publish_round, trade, BTC_PARAMS, DAY, ETH_PARAMS, SPOKE, TOKENS, USDC, WBTC, WETH, WEIGHTS, fund,
    set_price,
)
from margin_helpers import E18, MARGIN_ROLE, reverts_with
from web3 import Web3
from relayer.margin import AccountInputs, PositionInput, account_health, funding_delta
from relayer.margin.models import CollateralInput

MAX = 2**256 - 1
DECIMALS = {USDC: 6, WETH: 18, WBTC: 8}


def mirror_health(system, account):
    """Health of `account` recomputed in Python from raw on-chain state."""
    coll = []
    for asset in (USDC, WETH, WBTC):
        price, _, status = system.oracle.getPrice(asset)
        coll.append(CollateralInput(balance=system.ledger.balanceOf(account, asset), decimals=DECIMALS[asset],
                                    weight_bps=WEIGHTS[asset], price=price, status=status))
    positions = []
    for m, params in ((system.eth, ETH_PARAMS), (system.btc, BTC_PARAMS)):
        size, last_price, last_funding = m.positions(account)
        if size == 0:
            continue
        price = system.oracle.getPrice(m.feedId())[0]
        # funding index as the view computes it: accrued + pending since lastFundingTime
        idx = m.fundingIndex() + funding_delta(m.currentFundingRate(), price, chain[-1].timestamp - m.lastFundingTime())
        positions.append(PositionInput(size=size, last_price=last_price, last_funding=last_funding, price=price,
                                       funding=idx, params=params))
    return account_health(AccountInputs(usd_balance=system.ledger.usdBalanceOf(account), collateral=coll,
                                        positions=positions))


def assert_matches(system, account):
    h = system.engine.health(account)
    m = mirror_health(system, account)
    assert (h["equity"], h["initialMargin"], h["maintenanceMargin"], h["collateralValue"]) == (
        m.equity, m.initial_margin, m.maintenance_margin, m.collateral_value)
    return h


def test_equity_sums_weighted_collateral_usd_and_pnl(system, accounts):
    a = accounts[1]
    fund(system, a, usdc=1_000, weth=2, wbtc=0.1)
    h = system.engine.health(a)
    # 1000 x 1 + 2 x 2000 x 0.9 + 0.1 x 30000 x 0.9
    assert h["collateralValue"] == (1_000 + 3_600 + 2_700) * E18
    trade(system, system.eth, 3 * E18, MAX, a)
    set_price(system, WETH, 2_100)
    h = assert_matches(system, a)
    assert h["hasPositions"] and h["pricesOk"]


def test_health_matches_mirror_over_random_books(system, accounts):
    """Property-style: seeded random deposits, trades, price moves and time; engine == mirror."""
    rng = random.Random(4)
    traders = accounts[1:5]
    for t in traders:
        fund(system, t, usdc=rng.randint(5_000, 50_000), weth=rng.randint(0, 5), wbtc=rng.randint(0, 1))
    prices = {WETH: 2_000.0, WBTC: 30_000.0}
    for step in range(12):
        t = rng.choice(traders)
        m = rng.choice([system.eth, system.btc])
        delta = int(rng.uniform(-1, 1) * (3 if m == system.eth else 0.2) * E18)
        if delta:
            try:
                trade(system, m, delta, MAX if delta > 0 else 0, t)
            except Exception as err:  # only the margin check may refuse a random trade
                assert "MarketAccountBelowInitialMargin" in str(getattr(err, "revert_msg", err))
        chain.sleep(rng.randint(60, 6 * 3_600))
        for asset in prices:
            prices[asset] *= rng.uniform(0.93, 1.07)
            set_price(system, asset, prices[asset])
        for acct in traders:
            assert_matches(system, acct)
    # the pool's equity includes minus the traders' aggregate PnL
    pool_pnl = system.eth.marginState(system.pool)["pnl"] + system.btc.marginState(system.pool)["pnl"]
    traders_pnl = sum(m.marginState(t)["pnl"] for t in traders for m in (system.eth, system.btc))
    assert abs(pool_pnl + traders_pnl) <= 8


def test_stale_collateral_price_blocks_only_accounts_with_risk(system, accounts):
    a, b = accounts[1], accounts[2]
    fund(system, a, weth=10)
    fund(system, b, weth=10)
    trade(system, system.eth, E18, MAX, b)
    chain.sleep(DAY + 1)
    chain.mine()
    assert not system.engine.health(a)["pricesOk"]
    assert system.engine.meetsInitialMargin(a)  # no position, no debt: nothing to protect
    assert not system.engine.meetsInitialMargin(b)
    assert not system.engine.isLiquidatable(b)  # liquidations wait for fresh prices


def test_withdrawal_checked_by_engine(system, accounts):
    a = accounts[1]
    fund(system, a, usdc=10_000)
    trade(system, system.eth, 60 * E18, MAX, a)  # IM ~ 6.7k
    with reverts_with("WithdrawalLeavesAccountUnhealthy"):
        system.ledger.requestWithdrawal(USDC, 5_000 * 10**6, SPOKE, a, {"from": a})
    system.ledger.requestWithdrawal(USDC, 1_000 * 10**6, SPOKE, a, {"from": a})
    assert system.ledger.balanceOf(a, USDC) == 9_000 * 10**6


def test_withdrawal_blocked_while_price_stale_with_position(system, accounts):
    a, b = accounts[1], accounts[2]
    fund(system, a, usdc=10_000)
    fund(system, b, usdc=10_000)
    trade(system, system.eth, E18, MAX, a)
    chain.sleep(DAY + 1)
    chain.mine()
    with reverts_with("WithdrawalLeavesAccountUnhealthy"):
        system.ledger.requestWithdrawal(USDC, 10**6, SPOKE, a, {"from": a})
    system.ledger.requestWithdrawal(USDC, 10_000 * 10**6, SPOKE, b, {"from": b})  # no position: allowed


def test_weightless_asset_counts_zero(system, accounts, gov):
    a = accounts[1]
    fund(system, a, weth=1)
    system.ledger.setCollateralParams(WETH, 0, 0, {"from": gov})
    assert system.engine.health(a)["collateralValue"] == 0


def test_market_registry_rejects_bad_input(system, gov, accounts):
    with reverts_with("RiskEngineMarketInvalid"):
        system.engine.addMarket(system.eth, {"from": gov})
    with reverts_with("RiskEngineMarketInvalid"):
        system.engine.addMarket(ZERO_ADDRESS, {"from": gov})
    with reverts_with("RiskEngineMarketUnknown"):
        system.engine.removeMarket(accounts[3], {"from": gov})
    with reverts_with("AccessControlUnauthorizedAccount"):
        system.engine.addMarket(accounts[3], {"from": accounts[3]})
    system.engine.removeMarket(system.btc, {"from": gov})
    assert list(system.engine.markets()) == [system.eth.address]


def test_positions_are_indexed_per_account(system, accounts):
    """Issue 10: opening a position adds its market to the account's index, closing removes it;
    `health` walks the index only (and still matches the mirror). The pool is indexed in every
    market it backs."""
    a = accounts[1]
    fund(system, a, usdc=10_000)
    assert list(system.engine.heldMarkets(a)) == []
    trade(system, system.btc, E18 // 10, MAX, a)
    assert list(system.engine.heldMarkets(a)) == [system.btc.address]
    trade(system, system.eth, E18, MAX, a)
    assert list(system.engine.heldMarkets(a)) == [system.eth.address, system.btc.address]
    close(system, system.btc, a)
    assert list(system.engine.heldMarkets(a)) == [system.eth.address]
    h = assert_matches(system, a)
    assert h["hasPositions"] and h["initialMargin"] > 0
    close(system, system.eth, a)
    assert list(system.engine.heldMarkets(a)) == [] and not system.engine.health(a)["hasPositions"]
    assert list(system.engine.heldMarkets(system.pool)) == [system.eth.address, system.btc.address]


def test_a_removed_market_stops_counting_and_counts_again_when_re_added(system, accounts, gov):
    a = accounts[1]
    fund(system, a, usdc=10_000)
    trade(system, system.eth, 2 * E18, MAX, a)
    im = system.engine.health(a)["initialMargin"]
    assert im > 0
    system.engine.removeMarket(system.eth, {"from": gov})
    assert system.engine.health(a)["initialMargin"] == 0 and list(system.engine.heldMarkets(a)) == []
    system.engine.addMarket(system.eth, {"from": gov})
    assert system.engine.health(a)["initialMargin"] == im
    assert list(system.engine.heldMarkets(a)) == [system.eth.address]


def test_a_market_never_registered_cannot_open_positions(system, accounts, gov, PerpMarket):
    """Its positions would be missing from the index once it is registered: the fill is refused."""
    m = PerpMarket.deploy(gov, system.ledger, system.oracle, system.engine, WETH, system.pool, ETH_PARAMS.as_tuple(),
                          {"from": gov})
    system.ledger.grantRole(MARGIN_ROLE, m, {"from": gov})
    a = accounts[1]
    fund(system, a, usdc=10_000)
    m.commitOrder(E18, MAX, {"from": a})
    chain.sleep(m.orderConfig()[0])
    tx = m.settleOrder(a, publish_round(system, m), {"from": a})
    selector = Web3.keccak(text="RiskEngineMarketUnknown(address)")[:4]
    assert bytes(tx.events["OrderFillRefused"]["reason"])[:4] == selector
    assert m.positions(a)[0] == 0 and list(system.engine.heldMarkets(a)) == []
