"""Keeper on the real chain: follows accounts through events, liquidates after a price drop, and
a competing keeper that saw the same unhealthy set skips without error; it syncs the aggregator
feeds every round, so a jump beyond the bound latches until governance resolves it (D18/D31);
its auto-deleveraging loop
closes the highest PnL x leverage winners while the LP vault needs it, and no more."""

import pytest
from brownie import web3
from margin_support import trade, WBTC, WETH, fund, set_price
from margin_helpers import E18, open_position
from relayer.errors import KeeperError
from relayer.keeper.deleverager import Deleverager
from relayer.keeper.feeds import FeedSyncer
from relayer.keeper.liquidator import LIQUIDATION_GAS, Keeper
from relayer.keeper.tracker import AccountTracker
from relayer.margin.adl import rank

MAX = 2**256 - 1


def unlocked_send(address, cap=None):
    """The keeper's `send` on brownie's chain: its unlocked dev account transacts and waits (with
    `cap`, never more gas than that, whatever the keeper asks: an out-of-gas liquidation)."""

    def send(call, gas=None):
        tx = call.transact({"from": address, "gas": cap or gas or LIQUIDATION_GAS})
        return "0x" + bytes(tx).hex(), int(web3.eth.wait_for_transaction_receipt(tx, timeout=60)["status"])

    return send


def make_keeper(system, sender, PerpMarket, LiquidationModule, MarginLens, cap=None, **kw):
    tracker = AccountTracker(web3, PerpMarket.abi, [system.eth.address, system.btc.address])
    lens = web3.eth.contract(address=system.lens.address, abi=MarginLens.abi)
    module = web3.eth.contract(address=system.liq.address, abi=LiquidationModule.abi)
    return Keeper(web3, sender.address, tracker, lens, module, send=unlocked_send(sender.address, cap), **kw)


def test_competing_keepers_liquidate_each_unhealthy_account_once(system, accounts, PerpMarket, LiquidationModule,
                                                                   MarginLens):
    k1_acct, k2_acct = accounts[5], accounts[6]
    fund(system, k1_acct, usdc=1_000_000)
    fund(system, k2_acct, usdc=1_000_000)
    traders = accounts[1:5]
    for i, t in enumerate(traders):
        fund(system, t, usdc=10_000)
        trade(system, system.eth, (80 - 20 * i) * E18, MAX, t)  # 80, 60, 40, 20 ETH long
    k1 = make_keeper(system, k1_acct, PerpMarket, LiquidationModule, MarginLens)
    k2 = make_keeper(system, k2_acct, PerpMarket, LiquidationModule, MarginLens)
    checked, unhealthy = k1.unhealthy_accounts()
    assert checked == 4 and unhealthy == []

    set_price(system, WETH, 1_880)  # 80 and 60 ETH longs fall below maintenance margin
    view1, view2 = k1.unhealthy_accounts(), k2.unhealthy_accounts()
    assert view1[1] == [traders[0].address, traders[1].address] == view2[1]  # largest shortfall first
    r1 = k1.liquidate(*view1)
    r2 = k2.liquidate(*view2)  # same stale view: every simulation now reverts benignly
    assert len(r1.sent) == 2 and r1.reverted == 0
    assert r2.sent == [] and r2.skipped_benign == 2
    assert k1.unhealthy_accounts()[1] == []
    assert not any(system.engine.isLiquidatable(t) for t in traders)


def test_keeper_without_collateral_closes_positions_and_reports_the_sale_it_cannot_pay(
        system, accounts, PerpMarket, LiquidationModule, MarginLens):
    """An unfunded keeper cannot buy the collateral (LiquidatorBelowInitialMargin): it still closes
    the positions, reports the rest as a failure (not a benign skip), and a funded keeper finishes."""
    trader, poor, rich = accounts[1], accounts[7], accounts[5]
    fund(system, trader, wbtc=1)  # 1 BTC at 90 %: $27,000 of margin, priced apart from ETH
    trade(system, system.eth, 60 * E18, MAX, trader)  # $120k notional, IM $6,720
    set_price(system, WETH, 1_500)  # -25 % in one round: -$30,000, more than the BTC is worth
    keeper = make_keeper(system, poor, PerpMarket, LiquidationModule, MarginLens)

    first = keeper.run_once(strict=False)
    assert first.liquidated == [trader.address] and first.failed == {}
    assert system.eth.positions(trader)[0] == 0  # positions closed without buying anything
    assert system.ledger.balanceOf(trader, WBTC) == 10**8
    with pytest.raises(KeeperError, match="LiquidatorBelowInitialMargin"):
        keeper.run_once()  # no position left: only a sale helps, and this keeper cannot pay for it

    fund(system, rich, usdc=1_000_000)
    funded = make_keeper(system, rich, PerpMarket, LiquidationModule, MarginLens)
    assert funded.run_once().liquidated == [trader.address]
    assert system.ledger.balanceOf(trader, WBTC) == 0 and not system.engine.isLiquidatable(trader)
    assert system.ledger.usdBalanceOf(trader) == 0  # the insurance fund covered what the BTC did not


def test_lens_scan_pages_with_shortfalls(system, accounts):
    traders = accounts[1:4]
    for i, t in enumerate(traders):
        fund(system, t, usdc=10_000)
        trade(system, system.eth, (40 + 20 * i) * E18, MAX, t)  # 40, 60, 80 ETH long
    set_price(system, WETH, 1_880)
    everyone = [t.address for t in traders] + [accounts[7].address]
    found, gaps, nxt = system.lens.scan.call(everyone, 0, 10)
    assert nxt == 4 and sorted(found) == sorted(system.lens.liquidatable(everyone))
    for a, gap in zip(found, gaps, strict=True):
        h = system.engine.health(a)
        assert gap == h[2] - h[0] > 0  # maintenance margin - equity
    pages, offset = [], 0
    while offset < len(everyone):
        page, _, offset = system.lens.scan.call(everyone, offset, 1)
        pages += page
    assert pages == list(found)
    past_end = system.lens.scan.call(everyone, 9, 5)
    assert list(past_end[0]) == [] and list(past_end[1]) == [] and past_end[2] == 4


def test_keeper_sizes_gas_from_the_estimate_and_reports_out_of_gas_apart(
        system, accounts, PerpMarket, LiquidationModule, MarginLens):
    trader, keeper_acct = accounts[1], accounts[5]
    fund(system, keeper_acct, usdc=1_000_000)
    fund(system, trader, usdc=10_000)
    trade(system, system.eth, 60 * E18, MAX, trader)
    trade(system, system.btc, E18 // 2, MAX, trader)
    set_price(system, WETH, 1_880)
    starved = make_keeper(system, keeper_acct, PerpMarket, LiquidationModule, MarginLens, cap=150_000)
    r = starved.run_once(strict=False)
    assert r.out_of_gas == [trader.address] and r.reverted == 0 and r.liquidated == []
    keeper = make_keeper(system, keeper_acct, PerpMarket, LiquidationModule, MarginLens)
    call = keeper.module.functions.liquidate(trader.address, keeper.max_repay)
    limit = keeper.gas_limit(call)
    r = keeper.run_once()
    assert r.liquidated == [trader.address] and r.out_of_gas == []
    tx = web3.eth.get_transaction(r.sent[0])
    assert tx["gas"] == limit > web3.eth.get_transaction_receipt(r.sent[0])["gasUsed"]


OK, INVALID = 0, 2  # IPriceOracle.PriceStatus


def make_syncing_keeper(system, sender, PerpMarket, LiquidationModule, MarginLens, RiskEngine, PriceOracle,
                        MockAggregatorV3):
    """The real Keeper with its FeedSyncer over the system's risk engine and oracle."""
    feeds = FeedSyncer(web3, sender.address, web3.eth.contract(address=system.engine.address, abi=RiskEngine.abi),
                       web3.eth.contract(address=system.oracle.address, abi=PriceOracle.abi), MockAggregatorV3.abi,
                       unlocked_send(sender.address))
    return make_keeper(system, sender, PerpMarket, LiquidationModule, MarginLens, feeds=feeds)


def test_keeper_sync_latches_a_jump_that_stays_invalid_until_governance_resolves(
        system, accounts, PerpMarket, LiquidationModule, MarginLens, RiskEngine, PriceOracle, MockAggregatorV3):
    keeper = make_syncing_keeper(system, accounts[5], PerpMarket, LiquidationModule, MarginLens, RiskEngine,
                                 PriceOracle, MockAggregatorV3)
    before = system.oracle.getPrice(WETH)[0]
    set_price(system, WETH, 900)  # 2,000 -> 900: -55 %, beyond the feed's 50 % bound
    r = keeper.run_once()
    assert r.feeds_latched == [WETH] and WETH in r.feeds_synced and r.failed == {}
    assert system.oracle.feedOf(WETH)[10]  # latched
    assert tuple(system.oracle.getPrice(WETH))[0::2] == (before, INVALID)
    for step in range(5):  # consistent rounds at the new level: an unlatched jump falls out after 4
        set_price(system, WETH, 900 + step)
        r = keeper.run_once()
        assert r.feeds_synced == [] and r.feeds_latched == []  # a latched feed is left to governance
        assert tuple(system.oracle.getPrice(WETH))[0::2] == (before, INVALID)
    system.oracle.resolveFeed(WETH, {"from": system.gov})
    assert tuple(system.oracle.getPrice(WETH))[0::2] == (904 * E18, OK)
    assert not system.oracle.feedOf(WETH)[10]


def test_keeper_sync_advances_the_anchor_on_a_small_move_without_latching(
        system, accounts, PerpMarket, LiquidationModule, MarginLens, RiskEngine, PriceOracle, MockAggregatorV3):
    keeper = make_syncing_keeper(system, accounts[5], PerpMarket, LiquidationModule, MarginLens, RiskEngine,
                                 PriceOracle, MockAggregatorV3)
    keeper.run_once()  # the fixture's first rounds
    assert keeper.run_once().feeds_synced == []  # nothing new: nothing sent
    set_price(system, WETH, 2_100)  # +5 %
    r = keeper.run_once()
    assert r.feeds_synced == [WETH] and r.feeds_latched == []
    feed = system.oracle.feedOf(WETH)
    assert feed[9] == system.aggs[WETH].latestRound() and feed[7] == 2_100 * E18 and not feed[10]
    assert tuple(system.oracle.getPrice(WETH))[0::2] == (2_100 * E18, OK)


def make_adl_keeper(vsys, sender, gov, PerpMarket, LiquidationModule, MarginLens, LPVault, AutoDeleverager,
                    RiskEngine):
    """The real Keeper with its Deleverager over the vault system (a lens deployed for it)."""
    lens = MarginLens.deploy(vsys.engine, {"from": gov})
    tracker = AccountTracker(web3, PerpMarket.abi, [vsys.eth.address, vsys.btc.address])
    bind = lambda c, abi: web3.eth.contract(address=c.address, abi=abi)  # noqa: E731
    deleverager = Deleverager(web3, sender.address, tracker, bind(vsys.vault, LPVault.abi),
                              bind(vsys.adl, AutoDeleverager.abi), bind(vsys.engine, RiskEngine.abi),
                              {"ETH-USD": bind(vsys.eth, PerpMarket.abi), "BTC-USD": bind(vsys.btc, PerpMarket.abi)},
                              send=unlocked_send(sender.address))
    keeper = Keeper(web3, sender.address, tracker, bind(lens, MarginLens.abi), bind(vsys.liq, LiquidationModule.abi),
                    send=unlocked_send(sender.address), deleverager=deleverager)
    return keeper, deleverager


def test_keeper_deleverages_the_highest_pnl_times_leverage_winner_until_the_vault_recovers(
        vsys, accounts, gov, PerpMarket, LiquidationModule, MarginLens, LPVault, AutoDeleverager, RiskEngine):
    high, low, loser, keeper_acct = accounts[1], accounts[2], accounts[3], accounts[4]
    fund(vsys, high, usdc=80_000)
    fund(vsys, low, usdc=40_000)
    fund(vsys, loser, usdc=50_000)
    open_position(vsys.eth, high, 400 * E18)  # $800k on $80k: 10x
    open_position(vsys.eth, low, 100 * E18)  # $200k on $40k: 5x
    open_position(vsys.eth, loser, -10 * E18)
    keeper, deleverager = make_adl_keeper(vsys, keeper_acct, gov, PerpMarket, LiquidationModule, MarginLens,
                                          LPVault, AutoDeleverager, RiskEngine)
    quiet = keeper.run_once()
    assert not quiet.adl_needed and quiet.deleveraged == [] and quiet.sent == []

    set_price(vsys, WETH, 2_300)  # +$120k and +$30k of open profit: over 50 % of the vault's assets
    assert vsys.vault.needsDeleverage() and vsys.vault.equity() > 0
    ranked = [(c.account, c.market) for c in rank(deleverager.candidates())]
    assert ranked == [(high.address, "ETH-USD"), (low.address, "ETH-USD")]  # the loser is never a candidate
    low_size, loser_size = vsys.eth.positions(low)[0], vsys.eth.positions(loser)[0]

    result = keeper.run_once()
    assert result.adl_needed and result.deleveraged == [f"ETH-USD:{high.address}"]  # one was enough
    assert result.failed == {} and result.reverted == 0
    assert vsys.eth.positions(high)[0] == 0 and vsys.ledger.usdBalanceOf(high) > 100_000 * E18  # profit kept
    assert vsys.eth.positions(low)[0] == low_size and vsys.eth.positions(loser)[0] == loser_size
    assert not vsys.vault.needsDeleverage() and vsys.vault.equity() > 0
    competitor = Deleverager(web3, accounts[5].address, deleverager.tracker, deleverager.vault, deleverager.adl,
                             deleverager.engine, deleverager.markets, send=unlocked_send(accounts[5].address))
    assert competitor.run_once().model_dump() == {"needed": False, "deleveraged": [], "sent": [], "reverted": 0,
                                                  "skipped": 0, "failed": {}, "still_needed": False}


def test_deleverager_goes_down_the_ranking_while_the_vault_still_needs_it(
        vsys, accounts, gov, PerpMarket, LiquidationModule, MarginLens, LPVault, AutoDeleverager, RiskEngine):
    """Two winners of the same size and a price far enough that closing one is not enough: both are
    closed, the more leveraged first, and the loop stops once the vault is healthy."""
    first, second, keeper_acct = accounts[1], accounts[2], accounts[4]
    fund(vsys, first, usdc=50_000)
    fund(vsys, second, usdc=60_000)
    open_position(vsys.eth, first, 250 * E18)  # $500k on $50k: 10x
    open_position(vsys.eth, second, 250 * E18)  # same size, more equity: lower leverage, ranked second
    _, deleverager = make_adl_keeper(vsys, keeper_acct, gov, PerpMarket, LiquidationModule, MarginLens, LPVault,
                                     AutoDeleverager, RiskEngine)
    set_price(vsys, WETH, 2_300)  # +$75k each: 75 % of the vault's assets; 60 % after closing one
    assert vsys.vault.needsDeleverage()
    result = deleverager.run_once()
    assert result.deleveraged == [f"ETH-USD:{first.address}", f"ETH-USD:{second.address}"]
    assert not result.still_needed and not vsys.vault.needsDeleverage()
