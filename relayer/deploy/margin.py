"""Deploy and wire the margin engine on the hub from a MarginPlan (docs/margin.md): PriceOracle with
the plan's aggregator feeds, RiskEngine set on the ledger, the LPVault (every market's counterparty,
the settlement's and the liquidation module's socialisation), its AutoDeleverager, the PerpMarkets
(delayed orders), the LiquidationModule, the Settlement, the lens.

Shared by the devnet (relayer/devnet/deploy_margin.py: mock aggregators, the deployer stays admin)
and `xmargin deploy <network>` (relayer/deploy/network.py: the plan's aggregators, then every
governance role handed to the hub's timelock). The deployer must hold GOVERNOR_ROLE and
DEFAULT_ADMIN_ROLE on the ledger while this runs (it grants MARGIN_ROLE and sets the hooks)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from eth_utils.crypto import keccak
from web3 import Web3

from relayer.chain.abi import load_artifact
from relayer.deploy.margin_plan import MarginPlan, usd
from relayer.deployment import FeedDeployment, MarginDeployment, MarketDeployment
from relayer.margin.params import market_params

if TYPE_CHECKING:  # relayer.devnet.deploy imports the devnet's margin module, which imports this one
    from relayer.devnet.deploy import Deployer

MARGIN_ROLE = keccak(text="MARGIN_ROLE")
LIQUIDATOR_ROLE = keccak(text="LIQUIDATOR_ROLE")
SETTLER_ROLE = keccak(text="SETTLER_ROLE")


@dataclass(frozen=True)
class MarginContracts:
    """What `deploy_engine` deployed: the record, and the contracts whose roles the deployer holds."""

    record: MarginDeployment
    governed: list[tuple[str, str]]
    """(artifact, address) of every AccessControl contract: the deployer holds GOVERNOR_ROLE and
    DEFAULT_ADMIN_ROLE on each until it hands them over."""
    guarded: list[str]
    """Addresses with a guardian action (the markets: pause opening); the guardian gets GUARDIAN_ROLE there only."""


def deploy_engine(
    hub: Deployer, ledger_addr: str, plan: MarginPlan, asset_ids: dict[str, int],
    report: Callable[[str], None] = print,
) -> MarginContracts:
    """Deploy the engine of `plan` next to the ledger at `ledger_addr` and wire it; the aggregators
    must exist (a usable latest round becomes each feed's anchor)."""
    admin = hub.account.address
    start_block = int(hub.w3.eth.block_number)
    settlement_asset = asset_ids[plan.settlement_asset]

    oracle = hub.deploy("PriceOracle", admin)
    engine = hub.deploy("RiskEngine", admin, ledger_addr, oracle)
    pool = hub.deploy("LPVault", admin, ledger_addr, engine, settlement_asset, plan.vault.redeem_delay_s,
                      usd(plan.vault.max_pnl_factor))  # the markets' counterparty
    deleverager = hub.deploy("AutoDeleverager", engine, pool)
    markets = {
        name: hub.deploy("PerpMarket", admin, ledger_addr, oracle, engine, plan.feeds[m.feed].feed_id, pool,
                         market_params(m.reference_price_usd, m.risk).as_tuple())
        for name, m in plan.markets.items()
    }
    liquidation = hub.deploy("LiquidationModule", admin, ledger_addr, engine, oracle, pool,
                             plan.liquidation.params().as_tuple())
    lens = hub.deploy("MarginLens", engine)
    settlement = hub.deploy("Settlement", admin, ledger_addr, pool, settlement_asset)
    hub.wait()

    decimals = _wire_oracle(hub, oracle, plan)
    _wire_ledger(hub, ledger_addr, engine, markets, liquidation, plan.insurance_fund)
    _wire_settlement(hub, ledger_addr, liquidation, settlement)
    _wire_vault(hub, ledger_addr, pool, deleverager, markets)
    if plan.orders is not None:
        for name, market in markets.items():
            hub.call(f"order config of {name}",
                     hub.contract("PerpMarket", market).functions.setOrderConfig(plan.orders.as_tuple()))
    hub.wait()
    report(f"margin engine: oracle {oracle}, risk engine {engine}, liquidation {liquidation}, LP vault {pool}, "
           f"auto-deleverager {deleverager}, settlement {settlement}; "
           + ", ".join(f"{n} {a}" for n, a in markets.items()))
    record = MarginDeployment(
        oracle=oracle, risk_engine=engine, liquidation=liquidation, lens=lens, pool=pool,
        insurance_fund=plan.insurance_fund,
        feeds={s: FeedDeployment(feed_id=f.feed_id, aggregator=f.aggregator, decimals=decimals[s])
               for s, f in plan.feeds.items()},
        markets={n: MarketDeployment(address=a, feed=plan.markets[n].feed) for n, a in markets.items()},
        start_block=start_block, vault=pool, deleverager=deleverager, settlement=settlement,
    )
    governed = [("PriceOracle", oracle), ("RiskEngine", engine), ("LPVault", pool),
                ("LiquidationModule", liquidation), ("Settlement", settlement),
                *(("PerpMarket", m) for m in markets.values())]
    return MarginContracts(record=record, governed=governed, guarded=list(markets.values()))


def _wire_oracle(hub: Deployer, oracle: str, plan: MarginPlan) -> dict[str, int]:
    """Every feed (its aggregator's decimals read on chain, returned per symbol) and the sequencer feed."""
    price_oracle: Any = hub.contract("PriceOracle", oracle)
    aggregator_abi = load_artifact("IAggregatorV3").abi
    decimals: dict[str, int] = {}
    for symbol, feed in plan.feeds.items():
        aggregator = hub.w3.eth.contract(address=Web3.to_checksum_address(feed.aggregator), abi=aggregator_abi)
        decimals[symbol] = int(aggregator.functions.decimals().call())
        hub.call(f"{symbol} feed", price_oracle.functions.setAggregatorFeed(
            feed.feed_id, feed.aggregator, feed.heartbeat_s, usd(feed.min_price_usd), usd(feed.max_price_usd),
            feed.max_move_bps))
    if plan.sequencer_feed is not None:
        hub.call("sequencer uptime feed", price_oracle.functions.setSequencerFeed(
            plan.sequencer_feed.address, plan.sequencer_feed.grace_period_s))
    return decimals


def _wire_ledger(hub: Deployer, ledger_addr: str, engine: str, markets: dict[str, str], liquidation: str,
                 insurance: str) -> None:
    """The ledger's hooks and MARGIN_ROLEs, the markets in the risk engine, liquidation on every market."""
    ledger: Any = hub.contract("MarginLedger", ledger_addr)
    hub.call("risk engine on the ledger", ledger.functions.setRiskEngine(engine))
    hub.call("insurance fund", ledger.functions.setInsuranceFund(insurance))
    risk: Any = hub.contract("RiskEngine", engine)
    for name, market in markets.items():
        hub.call(f"MARGIN_ROLE to {name}", ledger.functions.grantRole(MARGIN_ROLE, market))
        hub.call(f"add {name} to the risk engine", risk.functions.addMarket(market))
        hub.call(f"LIQUIDATOR_ROLE on {name}",
                 hub.contract("PerpMarket", market).functions.grantRole(LIQUIDATOR_ROLE, liquidation))
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
    hub.call("SETTLER_ROLE to the liquidation module", settle.functions.grantRole(SETTLER_ROLE, liquidation))
    hub.call("settlement on the liquidation module",
             hub.contract("LiquidationModule", liquidation).functions.setSettlement(settlement))
