"""The oracle-failure policy (docs/margin.md, one test per cell) and scenarios 1-4 of issue 8:
no hidden position, no fresh price after a refused move, no free option around a push, no
liquidation frozen by a collateral feed."""

import pytest
from brownie import chain

from margin_helpers import E18, MARGIN_ROLE, ORACLE_SIGNER_KEYS, quorum_report, reverts_with, sorted_signers
from margin_support import (
    DAY,
    ETH_PARAMS,
    ORDER_MAX_DELAY,
    ORDER_MIN_DELAY,
    SETTLEMENT_REWARD,
    SPOKE,
    USDC,
    WBTC,
    WETH,
    close,
    fund,
    publish_round,
    set_price,
    settle_pending,
    trade,
)

MAX = 2**256 - 1
OK, STALE, INVALID, SEQUENCER_DOWN = 0, 1, 2, 3
GUARDIAN_ROLE = "0x" + __import__("eth_utils").keccak(text="GUARDIAN_ROLE").hex()


@pytest.fixture
def trader(accounts, system):
    """10k USDC, long 24 ETH at 2,000 (scenario 1's account)."""
    fund(system, accounts[1], usdc=10_000)
    trade(system, system.eth, 24 * E18, MAX, accounts[1])
    return accounts[1]


def make_stale(system, asset):
    """Publishes a round of `asset` dated beyond the one-day heartbeat (last good price kept)."""
    agg = system.aggs[asset]
    agg.pushAt(agg.rounds(agg.latestRound())[0], chain[-1].timestamp - DAY - 10)


# ---------------------------------------------------------------- scenario 1: invalid price hides nothing
def test_invalid_market_price_still_counts_the_position_and_blocks_withdrawal_and_opening(system, trader):
    set_price(system, WETH, 900)  # -55 %: beyond the 50 % bound, the round is Invalid
    s = system.eth.marginState(trader)
    assert s["size"] == 24 * E18 and s["status"] == INVALID and s["price"] == 2_000 * E18
    h = system.engine.health(trader)
    assert h["hasPositions"] and h["initialMargin"] > 0 and not h["pricesOk"]
    assert not system.engine.meetsInitialMargin(trader)  # the ledger refuses every withdrawal:
    with reverts_with("WithdrawalLeavesAccountUnhealthy"):  # the attacker's $9,950 stays
        system.ledger.requestWithdrawal(USDC, 9_950 * 10**6, SPOKE, trader, {"from": trader})
    system.btc.commitOrder(E18, MAX, {"from": trader})  # BTC itself is priced Ok ...
    with reverts_with("MarketAccountBelowInitialMargin"):
        settle_pending(system, system.btc, trader)  # ... but the account holds an Invalid market
    with reverts_with("OraclePriceInvalid"):
        system.eth.commitOrder(E18, MAX, {"from": trader})


# ---------------------------------------------------------------- scenario 2: a refused move latches
def test_refused_move_latches_the_feed_so_no_position_opens_at_the_old_price(system, accounts):
    shorty = accounts[2]
    fund(system, shorty, usdc=10_000)
    set_price(system, WETH, 900)  # refused move
    system.oracle.syncFeed(WETH)  # anyone latches it
    set_price(system, WETH, 905)  # later rounds near the new level do not clear the latch
    assert tuple(system.oracle.getPrice(WETH))[0::2] == (2_000 * E18, INVALID)
    with reverts_with("OraclePriceInvalid"):
        system.eth.commitOrder(-10 * E18, 0, {"from": shorty})
    system.oracle.resolveFeed(WETH, {"from": system.gov})
    assert tuple(system.oracle.getPrice(WETH))[0::2] == (905 * E18, OK)


SIGNED_ETH = 9  # a market priced by quorum-signed reports


def test_refused_signed_report_leaves_no_fresh_price_to_trade_or_liquidate_at(system, accounts, gov, PerpMarket,
                                                                               liquidator):
    """Scenario 2 with signed reports: $1,300 refused by the 30 % bound used to leave $2,000 fresh for
    up to a heartbeat (a short opened at $2,000 and closed at $1,300 made +$16,721). Now the refusal
    makes the feed Invalid at once: nothing opens at $2,000, liquidations wait, withdrawals wait, and
    the price moves only when a later report confirms the new level."""
    oracle, pairs = system.oracle, sorted_signers(ORACLE_SIGNER_KEYS[:3])
    oracle.setSigners([a for a, _ in pairs], 2, {"from": gov})
    oracle.setSignedFeed(SIGNED_ETH, DAY, E18, 10**6 * E18, 3_000, {"from": gov})  # max move 30 %

    def submit(price, round_id):
        chain.sleep(2)
        chain.mine()
        args = quorum_report(pairs[:2], chain.id, oracle.address, SIGNED_ETH, round_id, price * E18,
                             chain[-1].timestamp)
        return oracle.submitReport(*args, {"from": accounts[9]})  # permissionless

    submit(2_000, 1)
    m = PerpMarket.deploy(gov, system.ledger, oracle, system.engine, SIGNED_ETH, system.pool, ETH_PARAMS.as_tuple(),
                          {"from": gov})
    m.setOrderConfig((ORDER_MIN_DELAY, ORDER_MAX_DELAY, SETTLEMENT_REWARD), {"from": gov})
    system.engine.addMarket(m, {"from": gov})
    system.ledger.grantRole(MARGIN_ROLE, m, {"from": gov})
    for market in (system.eth, system.btc, m):
        market.grantRole(market.LIQUIDATOR_ROLE(), system.liq, {"from": gov})
    longy, shorty = accounts[2], accounts[3]
    fund(system, longy, usdc=10_000)
    fund(system, shorty, usdc=10_000)
    m.commitOrder(40 * E18, MAX, {"from": longy})
    submit(2_000, 2)
    m.settleOrder(longy, 2, {"from": longy})  # long 40 at $2,000
    assert "PriceRefused" in submit(1_300, 3).events
    assert tuple(oracle.getPrice(SIGNED_ETH))[0::2] == (2_000 * E18, INVALID)
    with reverts_with("OraclePriceInvalid"):
        m.commitOrder(-40 * E18, 0, {"from": shorty})  # the attacker's short at the frozen $2,000
    assert not system.engine.isLiquidatable(longy)  # not liquidated at the frozen price either ...
    with reverts_with("LiquidationPricesNotFresh"):
        system.liq.liquidate(longy, 0, {"from": liquidator})
    with reverts_with("WithdrawalLeavesAccountUnhealthy"):  # ... and its margin cannot leave
        system.ledger.requestWithdrawal(USDC, 1_000 * 10**6, SPOKE, longy, {"from": longy})
    submit(1_290, 4)  # a later report confirms the new level
    assert tuple(oracle.getPrice(SIGNED_ETH))[0::2] == (1_290 * E18, OK)
    tx = system.liq.liquidate(longy, MAX, {"from": liquidator})  # at the confirmed price
    assert tx.events["PositionLiquidated"][0]["price"] == 1_290 * E18


def test_a_round_after_an_unlatched_jump_does_not_settle_a_reducing_order(system, trader):
    """A jump beyond the bound that nobody latched, then a round at the jumped level: the pairwise
    check passes that round, but it is not a valid settlement round while `getPrice` reports the
    feed Invalid; the order settles once governance resolves the feed."""
    set_price(system, WETH, 900)  # -55 % > 50 %: not latched (no syncFeed)
    system.eth.commitOrder(-10 * E18, 0, {"from": trader})  # reducing: no fresh price needed
    chain.sleep(ORDER_MIN_DELAY)
    set_price(system, WETH, 900)  # the first round after the delay, 0 % from the one before
    rid = system.aggs[WETH].latestRound()
    assert tuple(system.oracle.getPrice(WETH))[0::2] == (2_000 * E18, INVALID)
    assert system.oracle.roundPrice(WETH, rid)[3] is False
    with reverts_with("OrderSettlementPriceInvalid"):
        system.eth.settleOrder(trader, rid, {"from": trader})
    system.oracle.resolveFeed(WETH, {"from": system.gov})  # governance accepts the new level
    assert tuple(system.oracle.getPrice(WETH))[0::2] == (900 * E18, OK)
    tx = system.eth.settleOrder(trader, rid, {"from": trader})
    assert tx.events["OrderSettled"]["price"] == 900 * E18
    assert system.eth.positions(trader)[0] == 14 * E18


def test_small_moves_far_past_the_anchor_still_settle(system, accounts):
    """Rounds within the bound settle however far the last `syncFeed` lies behind."""
    a = accounts[2]
    fund(system, a, usdc=10_000)
    for usd in (2_050, 2_100, 2_080, 2_150, 2_200, 2_180, 2_250):
        set_price(system, WETH, usd)
    system.eth.commitOrder(E18, MAX, {"from": a})
    chain.sleep(ORDER_MIN_DELAY)
    set_price(system, WETH, 2_300)
    tx = system.eth.settleOrder(a, system.aggs[WETH].latestRound(), {"from": a})
    assert tx.events["OrderSettled"]["price"] == 2_300 * E18


# ---------------------------------------------------------------- scenario 3: no free option
def test_buying_before_a_push_fills_at_the_pushed_price(system, accounts):
    a = accounts[2]
    fund(system, a, usdc=10_000)
    system.eth.commitOrder(4 * E18, MAX, {"from": a})  # commit while the price is 2,000
    chain.sleep(2)
    set_price(system, WETH, 2_020)  # +1 % push: the first round after the delay
    tx = system.eth.settleOrder(a, system.aggs[WETH].latestRound(), {"from": a})
    assert tx.events["OrderSettled"]["price"] == 2_020 * E18
    close(system, system.eth, a)  # sells at the next round, 2,020 again
    assert system.ledger.usdBalanceOf(a) < 0  # fees only: the push earned nothing


def test_settlement_takes_only_the_first_round_after_the_delay(system, accounts):
    a = accounts[2]
    fund(system, a, usdc=10_000)
    before = publish_round(system, system.eth)
    system.eth.commitOrder(E18, MAX, {"from": a})
    with reverts_with("OrderSettlementPriceInvalid"):
        system.eth.settleOrder(a, before, {"from": a})  # published before the commit
    chain.sleep(2)
    set_price(system, WETH, 1_990)
    first = system.aggs[WETH].latestRound()
    set_price(system, WETH, 2_010)  # the trader would prefer to skip the first round
    with reverts_with("OrderSettlementPriceInvalid"):
        system.eth.settleOrder(a, first + 1, {"from": a})
    assert system.eth.settleOrder(a, first, {"from": a}).events["OrderSettled"]["price"] == 1_990 * E18


def test_expired_order_is_cancelled_and_escrow_returned(system, accounts):
    a, keeper = accounts[2], accounts[7]
    fund(system, a, usdc=10_000)
    system.eth.commitOrder(E18, MAX, {"from": a})
    assert system.ledger.usdBalanceOf(a) == -SETTLEMENT_REWARD
    with reverts_with("OrderNotExpired"):
        system.eth.cancelExpiredOrder(a, {"from": keeper})
    chain.sleep(40)
    publish_round(system, system.eth)
    with reverts_with("OrderExpired"):
        system.eth.settleOrder(a, system.aggs[WETH].latestRound(), {"from": keeper})
    system.eth.cancelExpiredOrder(a, {"from": keeper})
    assert system.ledger.usdBalanceOf(a) == 0 and system.eth.orders(a)[4] == 0


def test_keeper_earns_the_reward_and_one_order_at_a_time(system, accounts):
    a, keeper = accounts[2], accounts[7]
    fund(system, a, usdc=10_000)
    system.eth.commitOrder(E18, MAX, {"from": a})
    with reverts_with("OrderAlreadyPending"):
        system.eth.commitOrder(E18, MAX, {"from": a})
    settle_pending(system, system.eth, a, keeper=keeper)
    assert system.ledger.usdBalanceOf(keeper) == SETTLEMENT_REWARD
    assert system.eth.positions(a)[0] == E18


def test_guardian_pauses_opening_never_closing(system, trader, accounts, gov):
    guardian = accounts[7]
    system.eth.grantRole(GUARDIAN_ROLE, guardian, {"from": gov})
    system.eth.setOpeningPaused(True, {"from": guardian})
    with reverts_with("AccessControlUnauthorizedAccount"):
        system.eth.setOpeningPaused(False, {"from": guardian})  # only governance resumes
    with reverts_with("MarketOpeningPaused"):
        system.eth.commitOrder(E18, MAX, {"from": trader})
    close(system, system.eth, trader)
    assert system.eth.positions(trader)[0] == 0


# ---------------------------------------------------------------- scenario 4: nothing freezes liquidation
@pytest.mark.parametrize("asset", [WBTC, USDC])
def test_stale_collateral_is_valued_doubtful_and_liquidation_goes_ahead(system, accounts, liquidator, asset):
    t = accounts[3]
    fund(system, t, usdc=10_000, wbtc=0.00000001)
    trade(system, system.eth, 80 * E18, MAX, t)
    set_price(system, WETH, 1_900)
    make_stale(system, asset)
    price, status = system.engine.collateralPrice(asset)
    last_good = system.oracle.getPrice(asset)[0]
    assert status == STALE and price == last_good // 2
    h = system.engine.health(t)
    assert not h["pricesOk"] and h["liquidationPricesOk"]
    assert not system.engine.meetsInitialMargin(t)  # withdrawals wait
    tx = system.liq.liquidate(t, MAX, {"from": liquidator})
    assert "Liquidated" in tx.events


def test_sequencer_down_blocks_opening_and_liquidation_but_not_closing(system, trader, accounts, liquidator,
                                                                         MockAggregatorV3, gov):
    seq = MockAggregatorV3.deploy(0, {"from": gov})
    seq.push(1)  # down
    system.oracle.setSequencerFeed(seq, 3_600, {"from": gov})
    set_price(system, WETH, 1_500)
    assert tuple(system.oracle.getPrice(WETH))[2] == SEQUENCER_DOWN
    with reverts_with("OracleSequencerDown"):
        system.eth.commitOrder(E18, MAX, {"from": trader})
    with reverts_with("LiquidationPricesNotFresh"):
        system.liq.liquidate(trader, 0, {"from": liquidator})
    seq.push(0)  # back up: still inside the grace period
    with reverts_with("LiquidationPricesNotFresh"):
        system.liq.liquidate(trader, 0, {"from": liquidator})
    chain.sleep(3_601)
    set_price(system, WETH, 1_500)
    assert system.engine.isLiquidatable(trader)
    system.liq.liquidate(trader, 0, {"from": liquidator})


def test_closing_is_allowed_while_the_sequencer_is_down(system, trader, MockAggregatorV3, gov):
    seq = MockAggregatorV3.deploy(0, {"from": gov})
    seq.push(1)
    system.oracle.setSequencerFeed(seq, 3_600, {"from": gov})
    close(system, system.eth, trader)
    assert system.eth.positions(trader)[0] == 0
