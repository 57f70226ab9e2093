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
from decimal import Decimal
from typing import TYPE_CHECKING

from eth_account import Account

from relayer.config import MarginDeployment
from relayer.deploy.margin import deploy_engine
from relayer.deploy.margin_plan import E18, FeedPlan, MarginPlan, MarketPlan, RiskPlan, VaultPlan
from relayer.devnet.layout import INSURANCE_LABEL, KEEPER_KEYS, LP_KEY, label_address
from relayer.keeper.pusher import AGGREGATOR_DECIMALS, start_prices, to_answer
from relayer.margin.params import Calibration

if TYPE_CHECKING:  # deploy imports this module
    from relayer.devnet.deploy import Deployer

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


def devnet_plan(aggregators: dict[str, str], asset_ids: dict[str, int], prices: dict[str, float]) -> MarginPlan:
    """The devnet's MarginPlan: a feed per ledger asset (feed id = asset id), the ETH-USD and BTC-USD
    markets at the start prices, the short redemption delay, the contract's order defaults."""
    low, high = PRICE_BOUNDS
    return MarginPlan(
        settlement_asset="USDC",
        insurance_fund=label_address(INSURANCE_LABEL),
        feeds={s: FeedPlan(feed_id=asset_ids[s], aggregator=a, heartbeat_s=HEARTBEAT_S,
                           min_price_usd=Decimal(low) / E18, max_price_usd=Decimal(high) / E18,
                           max_move_bps=MAX_MOVE_BPS)
               for s, a in aggregators.items()},
        markets={name: MarketPlan(feed=feed, reference_price_usd=prices[feed],
                                  risk=RiskPlan(**DEVNET_CALIBRATION.model_dump()))
                 for name, feed in MARKETS.items()},
        vault=VaultPlan(redeem_delay_s=VAULT_REDEEM_DELAY_S, max_pnl_factor=Decimal(VAULT_MAX_PNL_FACTOR) / E18),
    )


def deploy_margin(
    hub: Deployer, ledger_addr: str, asset_ids: dict[str, int], report: Callable[[str], None] = print
) -> MarginDeployment:
    """Deploy a mock aggregator per ledger asset with a first round at the start price, then the
    engine of `devnet_plan` (relayer.deploy.margin, as a real network's deploy does); the deployer
    stays its admin. Returns its MarginDeployment."""
    prices = start_prices()
    aggregators = {symbol: hub.deploy("MockAggregatorV3", AGGREGATOR_DECIMALS) for symbol in asset_ids}
    for symbol, aggregator in aggregators.items():
        hub.call(f"first {symbol} round",
                 hub.contract("MockAggregatorV3", aggregator).functions.push(to_answer(prices[symbol])))
    hub.wait()
    engine = deploy_engine(hub, ledger_addr, devnet_plan(aggregators, asset_ids, prices), asset_ids, report)
    report("start prices " + ", ".join(f"{s} {p:g}" for s, p in prices.items()))
    return engine.record
