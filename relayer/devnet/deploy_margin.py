"""The devnet's margin engine on the hub (docs/margin.md): PriceOracle with a mock AggregatorV3 per
ledger asset (feed id = asset id), RiskEngine set on the ledger, the LPVault (the counterparty of
the ETH-USD and BTC-USD PerpMarkets, the settlement and the liquidation module's socialisation),
its AutoDeleverager, the LiquidationModule, the insurance fund, the lens.

The LP, the insurance fund and both keepers receive USDC collateral the only way any ledger
account does: deposits into spoke A's lockbox, which the relayer credits once it runs; the LP then
seeds the vault through `LPVault.deposit` (relayer/devnet/vault_seed.py, once the relayer runs).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from eth_account import Account
from eth_utils import keccak

from relayer.config import FeedDeployment, MarginDeployment, MarketDeployment
from relayer.devnet.layout import INSURANCE_LABEL, KEEPER_KEYS, LP_KEY, label_address
from relayer.keeper.pusher import AGGREGATOR_DECIMALS, start_prices, to_answer
from relayer.margin.params import Calibration, LiquidationParams, market_params

if TYPE_CHECKING:  # deploy imports this module
    from relayer.devnet.deploy import Deployer

MARGIN_ROLE = keccak(text="MARGIN_ROLE")
LIQUIDATOR_ROLE = keccak(text="LIQUIDATOR_ROLE")
HEARTBEAT_S = 120
"""A devnet price older than two minutes is stale (the pusher refreshes every 5 s)."""
MAX_MOVE_BPS = 3_000
"""Largest move per round, 30 % (the worst hourly close-to-close move on record is 20.9 %)."""
PRICE_BOUNDS = (10**12, 10**30)
"""Sanity bounds (1e18 USD): $0.000001 .. $1e12."""
MARKETS: dict[str, str] = {"ETH-USD": "ETH", "BTC-USD": "BTC"}
"""Market name -> feed (and ledger asset) symbol."""
DEVNET_CALIBRATION = Calibration(max_open_interest_usd=2_000_000)
"""The stress-tested defaults, with an open-interest cap of $2M a side (below what the pool backs)."""
FUNDING_USDC: dict[str, int] = {"lp": 1_000_000, "insurance": 100_000, "keeper": 100_000}
"""Whole USDC deposited at deploy for the LP (all of it seeds the vault), the insurance fund and each keeper."""
VAULT_REDEEM_DELAY_S = 30
"""Seconds between a vault redemption request and its execution (1 day would suit a real venue; the
devnet keeps it short so a redemption can be watched end to end)."""
VAULT_MAX_PNL_FACTOR = 10**18 // 2
"""Traders' open profit may reach 50 % of the vault's assets (GMX v2's MAX_PNL_FACTOR); above it
redemptions stop and auto-deleveraging may run."""


def funded_accounts() -> dict[str, tuple[str, int]]:
    """Name -> (ledger account, whole USDC it receives at deploy)."""
    out = {
        "LP": (Account.from_key(LP_KEY).address, FUNDING_USDC["lp"]),
        "insurance fund": (label_address(INSURANCE_LABEL), FUNDING_USDC["insurance"]),
    }
    for i, key in enumerate(KEEPER_KEYS, start=1):
        out[f"keeper-{i}"] = (Account.from_key(key).address, FUNDING_USDC["keeper"])
    return out


def fund_on_spoke(tx: Deployer, lockbox: str, usdc: str, decimals: int) -> None:
    """Mint USDC to the deployer on a spoke and deposit it for every funded account (not awaited)."""
    erc20 = tx.contract("MockERC20", usdc)
    box = tx.contract("Lockbox", lockbox)
    accounts = funded_accounts()
    total = sum(whole for _, whole in accounts.values()) * 10**decimals
    tx.call("mint USDC for margin accounts", erc20.functions.mint(tx.account.address, total))
    tx.call("approve lockbox", erc20.functions.approve(lockbox, total))
    for name, (account, whole) in accounts.items():
        tx.call(f"deposit {whole} USDC for {name}", box.functions.deposit(usdc, whole * 10**decimals, account))


def deploy_margin(
    hub: Deployer, ledger_addr: str, asset_ids: dict[str, int], report: Callable[[str], None] = print
) -> MarginDeployment:
    """Deploy and wire the margin engine on the hub; returns its MarginDeployment."""
    admin = hub.account.address
    insurance = label_address(INSURANCE_LABEL)
    prices = start_prices()
    start_block = int(hub.w3.eth.block_number)

    oracle = hub.deploy("PriceOracle", admin)
    aggregators = {symbol: hub.deploy("MockAggregatorV3", AGGREGATOR_DECIMALS) for symbol in asset_ids}
    engine = hub.deploy("RiskEngine", admin, ledger_addr, oracle)
    pool = hub.deploy("LPVault", admin, ledger_addr, engine, asset_ids["USDC"], VAULT_REDEEM_DELAY_S,
                      VAULT_MAX_PNL_FACTOR)  # the markets' counterparty
    deleverager = hub.deploy("AutoDeleverager", engine, pool)
    markets = {
        name: hub.deploy("PerpMarket", admin, ledger_addr, oracle, engine, asset_ids[feed], pool,
                         market_params(prices[feed], DEVNET_CALIBRATION).as_tuple())
        for name, feed in MARKETS.items()
    }
    liquidation = hub.deploy("LiquidationModule", admin, ledger_addr, engine, oracle, pool,
                             LiquidationParams().as_tuple())
    lens = hub.deploy("MarginLens", engine)
    settlement = hub.deploy("Settlement", admin, ledger_addr, pool, asset_ids["USDC"])
    hub.wait()

    _wire(hub, ledger_addr, oracle, aggregators, asset_ids, prices, engine, markets, liquidation, insurance)
    _wire_settlement(hub, ledger_addr, liquidation, settlement)
    _wire_vault(hub, ledger_addr, pool, deleverager, markets)
    hub.wait()
    report(f"margin engine: oracle {oracle}, risk engine {engine}, liquidation {liquidation}, LP vault {pool}, "
           f"auto-deleverager {deleverager}; "
           + ", ".join(f"{n} {a}" for n, a in markets.items())
           + "; start prices " + ", ".join(f"{s} {p:g}" for s, p in prices.items()))
    return MarginDeployment(
        oracle=oracle, risk_engine=engine, liquidation=liquidation, lens=lens, pool=pool, insurance_fund=insurance,
        feeds={s: FeedDeployment(feed_id=asset_ids[s], aggregator=a, decimals=AGGREGATOR_DECIMALS)
               for s, a in aggregators.items()},
        markets={n: MarketDeployment(address=a, feed=MARKETS[n]) for n, a in markets.items()},
        start_block=start_block, vault=pool, deleverager=deleverager,
    )


def _wire(
    hub: Deployer, ledger_addr: str, oracle: str, aggregators: dict[str, str], asset_ids: dict[str, int],
    prices: dict[str, float], engine: str, markets: dict[str, str], liquidation: str, insurance: str,
) -> None:
    """Feeds with a first round, the ledger's hooks and roles, markets in the engine (docs/margin.md)."""
    ledger: Any = hub.contract("MarginLedger", ledger_addr)
    price_oracle: Any = hub.contract("PriceOracle", oracle)
    for symbol, aggregator in aggregators.items():
        hub.call(f"first {symbol} round", hub.contract("MockAggregatorV3", aggregator).functions.push(to_answer(prices[symbol])))
        hub.call(f"{symbol} feed", price_oracle.functions.setAggregatorFeed(
            asset_ids[symbol], aggregator, HEARTBEAT_S, *PRICE_BOUNDS, MAX_MOVE_BPS))
    hub.call("risk engine on the ledger", ledger.functions.setRiskEngine(engine))
    hub.call("insurance fund", ledger.functions.setInsuranceFund(insurance))
    risk: Any = hub.contract("RiskEngine", engine)
    for name, market in markets.items():
        hub.call(f"MARGIN_ROLE to {name}", ledger.functions.grantRole(MARGIN_ROLE, market))
        hub.call(f"add {name} to the risk engine", risk.functions.addMarket(market))
        hub.call(f"LIQUIDATOR_ROLE on {name}", hub.contract("PerpMarket", market).functions.grantRole(LIQUIDATOR_ROLE, liquidation))
    hub.call("MARGIN_ROLE to the liquidation module", ledger.functions.grantRole(MARGIN_ROLE, liquidation))


def _wire_vault(hub: Deployer, ledger_addr: str, vault: str, deleverager: str, markets: dict[str, str]) -> None:
    """The vault moves USDC between LPs and itself (MARGIN_ROLE on the ledger); the deleverager closes
    profitable positions through every market's `liquidationClose` (LIQUIDATOR_ROLE)."""
    ledger: Any = hub.contract("MarginLedger", ledger_addr)
    hub.call("MARGIN_ROLE to the LP vault", ledger.functions.grantRole(MARGIN_ROLE, vault))
    for name, market in markets.items():
        hub.call(f"LIQUIDATOR_ROLE on {name} to the auto-deleverager",
                 hub.contract("PerpMarket", market).functions.grantRole(LIQUIDATOR_ROLE, deleverager))


def _wire_settlement(hub: Deployer, ledger_addr: str, liquidation: str, settlement: str) -> None:
    """USD settlement in USDC against the LP vault before every withdrawal and in liquidation
    (docs/margin.md "USD settlement"): a winner withdraws profit with the ordinary withdrawal."""
    ledger: Any = hub.contract("MarginLedger", ledger_addr)
    settle: Any = hub.contract("Settlement", settlement)
    hub.call("MARGIN_ROLE to the settlement", ledger.functions.grantRole(MARGIN_ROLE, settlement))
    hub.call("settlement on the ledger", ledger.functions.setSettlement(settlement))
    hub.call("SETTLER_ROLE to the liquidation module",
             settle.functions.grantRole(settle.functions.SETTLER_ROLE().call(), liquidation))
    hub.call("settlement on the liquidation module",
             hub.contract("LiquidationModule", liquidation).functions.setSettlement(settlement))

