"""Fixtures of the margin-engine contract tests (oracle, markets, risk engine, liquidation)."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))


@pytest.fixture(autouse=True)
def isolation(fn_isolation):
    """Every test starts from the module's deployed state."""


@pytest.fixture(scope="module")
def gov(accounts):
    return accounts[0]


@pytest.fixture(scope="module")
def oracle(PriceOracle, gov):
    return PriceOracle.deploy(gov, {"from": gov})


@pytest.fixture(scope="module")
def eth_agg(MockAggregatorV3, gov):
    return MockAggregatorV3.deploy(8, {"from": gov})


# ---------------------------------------------------------------- full margin system
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from margin_helpers import E18, MARGIN_ROLE  # noqa: E402
from relayer.margin.models import MarketParams  # noqa: E402

USDC, WETH, WBTC = 1, 2, 3
ETH_PARAMS = MarketParams(
    taker_fee=E18 // 1000,  # 0.1 %
    imf_base=E18 // 20,  # 5 % -> 20x
    imf_slope=E18 // 10_000,  # +0.01 % IMF per ETH of size
    mm_ratio=E18 // 2,
    max_funding_rate=E18 // 10,  # 10 %/day at full skew
    skew_scale=10_000 * E18,
    max_open_interest=50_000 * E18,
)
BTC_PARAMS = ETH_PARAMS.model_copy(
    update={"imf_slope": E18 // 500, "skew_scale": 1_000 * E18, "max_open_interest": 2_000 * E18}
)
LIQ_PARAMS = (E18 // 2, E18 // 100, E18 // 200, E18 // 20)  # close 50 %, reward 1 %, penalty 0.5 %, discount 5 %
DAY = 86_400


@pytest.fixture(scope="module")
def pool(accounts):
    return accounts[9]


@pytest.fixture(scope="module")
def insurance(accounts):
    return accounts[8]


@pytest.fixture(scope="module")
def system(gov, pool, insurance, oracle, MockAggregatorV3, LedgerHooksHarness, RiskEngine, PerpMarket,
           LiquidationModule, MarginLens):
    """Harness ledger + oracle (three aggregators) + risk engine + ETH and BTC markets + liquidation."""
    ledger = LedgerHooksHarness.deploy({"from": gov})
    ledger.listAsset(USDC, "USDC", 6, 10_000, {"from": gov})
    ledger.listAsset(WETH, "WETH", 18, 9_000, {"from": gov})
    ledger.listAsset(WBTC, "WBTC", 8, 9_000, {"from": gov})
    ledger.setInsuranceFund(insurance, {"from": gov})
    aggs = {}
    for asset, price in ((USDC, 1), (WETH, 2_000), (WBTC, 30_000)):
        agg = MockAggregatorV3.deploy(8, {"from": gov})
        agg.push(price * 10**8)
        oracle.setAggregatorFeed(asset, agg, DAY, 10**12, 10**30, 5_000, {"from": gov})
        aggs[asset] = agg
    engine = RiskEngine.deploy(gov, ledger, oracle, {"from": gov})
    eth = PerpMarket.deploy(gov, ledger, oracle, engine, WETH, pool, ETH_PARAMS.as_tuple(), {"from": gov})
    btc = PerpMarket.deploy(gov, ledger, oracle, engine, WBTC, pool, BTC_PARAMS.as_tuple(), {"from": gov})
    liq = LiquidationModule.deploy(gov, ledger, engine, oracle, pool, LIQ_PARAMS, {"from": gov})
    for m in (eth, btc):
        engine.addMarket(m, {"from": gov})
        ledger.grantRole(MARGIN_ROLE, m, {"from": gov})
        m.grantRole(m.LIQUIDATOR_ROLE(), liq, {"from": gov})
    ledger.grantRole(MARGIN_ROLE, liq, {"from": gov})
    ledger.credit(pool, USDC, 10_000_000 * 10**6, {"from": gov})
    ledger.credit(insurance, USDC, 100_000 * 10**6, {"from": gov})
    lens = MarginLens.deploy(engine, {"from": gov})
    return type("System", (), dict(ledger=ledger, oracle=oracle, aggs=aggs, engine=engine, eth=eth, btc=btc,
                                   liq=liq, lens=lens, pool=pool, insurance=insurance, gov=gov))


def set_price(system, asset, usd):
    """Pushes a new aggregator round (float USD, 8 decimals)."""
    system.aggs[asset].push(int(round(usd * 10**8)))


def fund(system, account, usdc=0, weth=0, wbtc=0):
    """Credits collateral in whole units."""
    if usdc:
        system.ledger.credit(account, USDC, int(usdc * 10**6), {"from": system.gov})
    if weth:
        system.ledger.credit(account, WETH, int(weth * E18), {"from": system.gov})
    if wbtc:
        system.ledger.credit(account, WBTC, int(wbtc * 10**8), {"from": system.gov})
