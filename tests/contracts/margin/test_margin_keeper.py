"""Keeper on the real chain: follows accounts through events, liquidates after a price drop, and
a competing keeper that saw the same unhealthy set skips without error."""

from brownie import web3
from margin_support import WETH, fund, set_price
from margin_helpers import E18
from relayer.keeper.liquidator import Keeper
from relayer.keeper.tracker import AccountTracker

MAX = 2**256 - 1


def make_keeper(system, sender, PerpMarket, LiquidationModule, MarginLens):
    tracker = AccountTracker(web3, PerpMarket.abi, [system.eth.address, system.btc.address])
    lens = web3.eth.contract(address=system.lens.address, abi=MarginLens.abi)
    module = web3.eth.contract(address=system.liq.address, abi=LiquidationModule.abi)
    return Keeper(web3, sender.address, tracker, lens, module)


def test_competing_keepers_liquidate_each_unhealthy_account_once(system, accounts, PerpMarket, LiquidationModule,
                                                                   MarginLens):
    k1_acct, k2_acct = accounts[5], accounts[6]
    fund(system, k1_acct, usdc=1_000_000)
    fund(system, k2_acct, usdc=1_000_000)
    traders = accounts[1:5]
    for i, t in enumerate(traders):
        fund(system, t, usdc=10_000)
        system.eth.modifyPosition((80 - 20 * i) * E18, MAX, {"from": t})  # 80, 60, 40, 20 ETH long
    k1 = make_keeper(system, k1_acct, PerpMarket, LiquidationModule, MarginLens)
    k2 = make_keeper(system, k2_acct, PerpMarket, LiquidationModule, MarginLens)
    checked, unhealthy = k1.unhealthy_accounts()
    assert checked == 4 and unhealthy == []

    set_price(system, WETH, 1_880)  # 80 and 60 ETH longs fall below maintenance margin
    view1, view2 = k1.unhealthy_accounts(), k2.unhealthy_accounts()
    assert sorted(view1[1]) == sorted([traders[0].address, traders[1].address]) == sorted(view2[1])
    r1 = k1.liquidate(*view1)
    r2 = k2.liquidate(*view2)  # same stale view: every simulation now reverts benignly
    assert len(r1.sent) == 2 and r1.reverted == 0
    assert r2.sent == [] and r2.skipped_benign == 2
    assert k1.unhealthy_accounts()[1] == []
    assert not any(system.engine.isLiquidatable(t) for t in traders)
