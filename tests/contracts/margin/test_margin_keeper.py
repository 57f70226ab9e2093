"""Keeper on the real chain: follows accounts through events, liquidates after a price drop, and
a competing keeper that saw the same unhealthy set skips without error."""

import pytest
from brownie import web3
from margin_support import trade, WBTC, WETH, fund, set_price
from margin_helpers import E18
from relayer.errors import KeeperError
from relayer.keeper.liquidator import LIQUIDATION_GAS, Keeper
from relayer.keeper.tracker import AccountTracker

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

