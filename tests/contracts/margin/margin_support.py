"""Fixtures of the margin-engine contract tests (oracle, markets, risk engine, liquidation)."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))  # tests/contracts: checkpoints.py


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

from brownie import chain  # noqa: E402
from checkpoints import VALIDATOR_KEYS, deposit_leaf, fold, sign_checkpoint  # noqa: E402
from checkpoints import addresses as cp_addresses  # noqa: E402
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
    max_oi_to_vault=5 * E18,  # larger side's notional <= 5 x the pool's equity (the vault tests' whale: 4x)
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


SPOKE = 101
TOKENS = {USDC: ("0x" + "11" * 20, 6), WETH: ("0x" + "22" * 20, 18), WBTC: ("0x" + "33" * 20, 8)}
WEIGHTS = {USDC: 10_000, WETH: 9_000, WBTC: 9_000}


class LedgerFunder:
    """Credits collateral through the REAL deposit route: a signed checkpoint over one batch."""

    def __init__(self, ledger, lockbox, gov):
        self.ledger, self.lockbox, self.gov = ledger, lockbox, gov

    def deposit(self, items):
        """items: [(account, assetId, token_units)]; processes them as one batch."""
        nonce, head = self.ledger.depositRoute(SPOKE)
        msgs = [(str(a), str(a), TOKENS[asset][0], int(amount)) for a, asset, amount in items]
        new_head = fold(bytes(head), nonce, msgs, deposit_leaf)
        last = nonce + len(msgs)
        sigs = sign_checkpoint(VALIDATOR_KEYS[:2], chain.id, self.ledger.address, SPOKE, self.lockbox, last, new_head)
        self.ledger.processDeposits(msgs, (SPOKE, self.lockbox, last, new_head), sigs, {"from": self.gov})


@pytest.fixture(scope="module")
def system(gov, pool, insurance, oracle, accounts, MockAggregatorV3, MarginLedger, RiskEngine, PerpMarket,
           LiquidationModule, MarginLens):
    """Real MarginLedger + oracle (three aggregators) + risk engine + ETH and BTC markets + liquidation."""
    ledger = MarginLedger.deploy(gov, {"from": gov})
    lockbox = accounts[6].address  # the route's source address; deposits arrive as signed batches
    ledger.registerSpoke(SPOKE, lockbox, {"from": gov})
    vals = sorted(cp_addresses(VALIDATOR_KEYS[:3]), key=lambda a: int(a, 16))
    ledger.setValidators(SPOKE, vals, 2, {"from": gov})
    for asset, sym in ((USDC, "USDC"), (WETH, "WETH"), (WBTC, "WBTC")):
        token, dec = TOKENS[asset]
        ledger.listAsset(asset, sym, dec, {"from": gov})
        ledger.listToken(SPOKE, token, asset, dec, {"from": gov})
        ledger.setCollateralParams(asset, WEIGHTS[asset], 0, {"from": gov})
    ledger.setInsuranceFund(insurance, {"from": gov})
    aggs = {}
    for asset, price in ((USDC, 1), (WETH, 2_000), (WBTC, 30_000)):
        agg = MockAggregatorV3.deploy(8, {"from": gov})
        agg.push(price * 10**8)
        oracle.setAggregatorFeed(asset, agg, DAY, 10**12, 10**30, 5_000, {"from": gov})
        aggs[asset] = agg
    engine = RiskEngine.deploy(gov, ledger, oracle, {"from": gov})
    ledger.setRiskEngine(engine, {"from": gov})
    eth = PerpMarket.deploy(gov, ledger, oracle, engine, WETH, pool, ETH_PARAMS.as_tuple(), {"from": gov})
    btc = PerpMarket.deploy(gov, ledger, oracle, engine, WBTC, pool, BTC_PARAMS.as_tuple(), {"from": gov})
    liq = LiquidationModule.deploy(gov, ledger, engine, oracle, pool, LIQ_PARAMS, {"from": gov})
    for m in (eth, btc):
        m.setOrderConfig((ORDER_MIN_DELAY, ORDER_MAX_DELAY, SETTLEMENT_REWARD), {"from": gov})
        engine.addMarket(m, {"from": gov})
        ledger.grantRole(MARGIN_ROLE, m, {"from": gov})
        m.grantRole(m.LIQUIDATOR_ROLE(), liq, {"from": gov})
    ledger.grantRole(MARGIN_ROLE, liq, {"from": gov})
    funder = LedgerFunder(ledger, lockbox, gov)
    funder.deposit([(pool, USDC, 10_000_000 * 10**6), (insurance, USDC, 100_000 * 10**6)])
    lens = MarginLens.deploy(engine, {"from": gov})
    return type("System", (), dict(ledger=ledger, oracle=oracle, aggs=aggs, engine=engine, eth=eth, btc=btc,
                                   liq=liq, lens=lens, pool=pool, insurance=insurance, gov=gov, funder=funder))


def set_price(system, asset, usd):
    """Pushes a new aggregator round (float USD, 8 decimals)."""
    system.aggs[asset].push(int(round(usd * 10**8)))


def fund(system, account, usdc=0, weth=0, wbtc=0):
    """Deposits collateral in whole units through the deposit route."""
    items = []
    if usdc:
        items.append((account, USDC, int(usdc * 10**6)))
    if weth:
        items.append((account, WETH, int(weth * E18)))
    if wbtc:
        items.append((account, WBTC, int(wbtc * 10**8)))
    system.funder.deposit(items)


# ---------------------------------------------------------------- delayed orders
MAX_PRICE = 2**256 - 1
ORDER_MIN_DELAY, ORDER_MAX_DELAY = 2, 30
SETTLEMENT_REWARD = E18 // 2


def _feed_aggregator(system, market):
    return system.aggs[market.feedId()]


def publish_round(system, market):
    """Re-publishes the market's latest aggregator answer as a new round (the keeper's next price)."""
    agg = _feed_aggregator(system, market)
    agg.push(agg.rounds(agg.latestRound())[0])
    return agg.latestRound()


def settle_pending(system, market, account, keeper=None, round_id=None):
    """Waits out the minimum delay, publishes the next round and settles `account`'s order with it.
    On a refused settlement the order is expired and cancelled (so the test can go on) and the
    error propagates."""
    settle_from = market.orders(account)[3]
    if chain[-1].timestamp < settle_from:
        chain.sleep(settle_from - chain[-1].timestamp)
    rid = round_id if round_id is not None else publish_round(system, market)
    delta = market.orders(account)[0]
    try:
        tx = market.settleOrder(account, rid, {"from": keeper or account})
    except Exception:
        expires = market.orders(account)[4]
        if expires != 0:
            if chain[-1].timestamp <= expires:
                chain.sleep(expires + 1 - chain[-1].timestamp)
                chain.mine()
            market.cancelExpiredOrder(account, {"from": account})
        raise
    if "OrderFillRefused" in tx.events:
        # The settlement cancelled the order: replay the fill as the market to raise its error.
        size = market.positions(account)[0]
        new = size + delta
        increases = new != 0 and (size == 0 or (size > 0) != (new > 0) or abs(new) > abs(size))
        price = system.oracle.roundPrice(market.feedId(), rid)[0]
        market.fillOrder.call(account, delta, price, increases, {"from": market.address})
        raise AssertionError("a refused fill did not refuse when replayed")
    return tx


def trade(system, market, delta, limit, sender, keeper=None):
    """A delayed order end to end: commit, then settle at the next round published at the current
    price (the trader settles it himself unless `keeper` is given, so the escrow nets to 0)."""
    market.commitOrder(delta, limit, {"from": sender})
    return settle_pending(system, market, sender, keeper)


def close(system, market, sender, keeper=None):
    """Closes the sender's whole position through a delayed order."""
    size = market.positions(sender)[0]
    return trade(system, market, -size, 0 if size > 0 else MAX_PRICE, sender, keeper)


@pytest.fixture
def liquidator(accounts, system):
    """A keeper holding 1M USDC on the ledger, ready to buy seized collateral."""
    fund(system, accounts[5], usdc=1_000_000)
    return accounts[5]
