"""Gas of the margin engine's hot paths on anvil (receipts' gasUsed, 21k intrinsic and
calldata included), on the two-market fixture (ETH and BTC markets; USDC, WETH, WBTC listed).

The ceilings pin today's figures plus ~3 % slack (block times follow the wall clock and move the
funding, so a liquidation's gas moves by a few % between runs; a regression still fails loudly):
commit 154.1k, settle 403.2k, partial 527.0k-527.2k, full (sale + insurance) 586.0k-613.1k,
partial in the steady state (seasoned market, feeds synced, liquidator and fund holding USD, a
later block) 355.2k-355.5k, run alone. Before the third gas step (docs/decisions.md
D43: packed oracle feeds, market and liquidation parameters, one ledger call per
health check) they were 156.2k, 434.3k, 558.5k, 629.1k-656.2k and 383.1k (the
steady-state figure: bench/margin_gas.py's same scenario on the contracts before); before the
second (D37 "Margin gas, second step": health once per liquidation, positions indexed per
account, packed orders / positions / open interest / funding) 200.1k, 461.5k, 681.3k and
785k-864k. bench/margin_gas.py reports the full table against issue 10's targets (liquidation
<= 150k for two markets and two collaterals, <= 250k with collateral sale and insurance, opening
<= 200k for commit and for settle): only the commit target is met; docs/margin.md, "Gas", says
where the rest goes. Figures before issue 10's work on this fixture: commit ~191k-235k, settle
(open) ~379k-560k, liquidation 1,046k avg / 1,648k high (brownie --gas over the liquidation
tests)."""

from margin_helpers import E18
from margin_support import MAX_PRICE, USDC, WBTC, WETH, fund, set_price, settle_pending, trade

CEILING_COMMIT_OPEN = 159_000
CEILING_SETTLE_OPEN = 415_000
CEILING_LIQUIDATE_PARTIAL = 543_000
CEILING_LIQUIDATE_FULL_SALE_INSURANCE = 650_000
CEILING_LIQUIDATE_PARTIAL_STEADY = 366_000
STEP = 0.99


def _open_two_markets(system, account, keeper):
    """8 ETH and 0.5 BTC long; returns the (commit, settle) gas of the first open."""
    commit = system.eth.commitOrder(8 * E18, MAX_PRICE, {"from": account})
    settle = settle_pending(system, system.eth, account, keeper)
    trade(system, system.btc, E18 // 2, MAX_PRICE, account)
    return commit.gas_used, settle.gas_used


def _drop_until_liquidatable(system, account):
    eth, btc = 2_000.0, 30_000.0
    while not system.engine.isLiquidatable(account):
        eth, btc = eth * STEP, btc * STEP
        set_price(system, WETH, eth)
        set_price(system, WBTC, btc)


def test_gas_open_and_partial_liquidation(system, accounts, liquidator):
    alice = accounts[1]
    fund(system, alice, usdc=5_000, weth=1)
    commit, settle = _open_two_markets(system, alice, accounts[7])
    _drop_until_liquidatable(system, alice)
    tx = system.liq.liquidate(alice, 0, {"from": liquidator})
    assert len(tx.events["Liquidated"]) == 1 and not tx.events["Liquidated"][0]["full"]
    print(f"\nGAS commitOrder (open) {commit}, settleOrder (open) {settle}, liquidate (partial) {tx.gas_used}")
    assert commit <= CEILING_COMMIT_OPEN
    assert settle <= CEILING_SETTLE_OPEN
    assert tx.gas_used <= CEILING_LIQUIDATE_PARTIAL


def test_gas_full_liquidation_with_sale_and_insurance(system, accounts, liquidator):
    bob = accounts[2]
    fund(system, bob, usdc=1_000, weth=1)
    trade(system, system.eth, 4 * E18, MAX_PRICE, bob)
    trade(system, system.btc, E18 // 5, MAX_PRICE, bob)
    set_price(system, WETH, 2_000 * 0.6)
    set_price(system, WBTC, 30_000 * 0.6)
    tx = system.liq.liquidate(bob, 2**256 - 1, {"from": liquidator})
    assert tx.events["Liquidated"][-1]["full"]
    assert len(tx.events["CollateralSold"]) >= 2 and len(tx.events["InsuranceUsed"]) == 1
    print(f"\nGAS liquidate (full, collateral sale, insurance) {tx.gas_used}")
    assert tx.gas_used <= CEILING_LIQUIDATE_FULL_SALE_INSURANCE


def test_gas_partial_liquidation_steady_state(system, accounts, liquidator, chain):
    """The steady state beside the first-time figure above (which a young book pays: zero-to-non-zero
    funding and balance stores): the market was skewed for a day before the positions opened, the
    feeds are synced (the keeper's round) and the liquidator and the fund already hold USD (an
    identical account was liquidated just before). The second liquidation is pinned."""
    season, first, second = accounts[2], accounts[3], accounts[4]
    fund(system, season, usdc=100_000)
    trade(system, system.eth, 20 * E18, MAX_PRICE, season)
    trade(system, system.btc, E18, MAX_PRICE, season)
    chain.sleep(86_400)
    set_price(system, USDC, 1)
    set_price(system, WETH, 2_000)
    set_price(system, WBTC, 30_000)
    for who in (first, second):
        fund(system, who, usdc=5_000, weth=1)
        _open_two_markets(system, who, accounts[7])
    _drop_until_liquidatable(system, first)
    for feed in (USDC, WETH, WBTC):
        system.oracle.syncFeed(feed, {"from": liquidator})
    gas = []
    for who in (first, second):
        chain.sleep(12)  # a later block: the closes accrue funding (same-second accruals are skipped)
        tx = system.liq.liquidate(who, 0, {"from": liquidator})
        assert len(tx.events["Liquidated"]) == 1 and not tx.events["Liquidated"][0]["full"]
        gas.append(tx.gas_used)
    print(f"\nGAS liquidate (partial, steady state) first {gas[0]}, second {gas[1]}")
    assert gas[1] <= CEILING_LIQUIDATE_PARTIAL_STEADY
