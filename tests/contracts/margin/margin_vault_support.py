"""Fixtures of the settlement / LP vault tests: the margin system whose counterparty is an LPVault,
with USD settlement in USDC and auto-deleveraging."""

import importlib.util
from pathlib import Path

import brownie.test
import pytest
from brownie import chain

from margin_helpers import E18, MARGIN_ROLE
from margin_support import (  # margin_support puts tests/contracts (checkpoints) on the path
    BTC_PARAMS,
    ETH_PARAMS,
    LIQ_PARAMS,
    ORDER_MAX_DELAY,
    ORDER_MIN_DELAY,
    SETTLEMENT_REWARD,
    SPOKE,
    TOKENS,
    USDC,
    VALIDATOR_KEYS,
    WBTC,
    WEIGHTS,
    WETH,
    LedgerFunder,
    cp_addresses,
)

DAY = 86_400
REDEEM_DELAY = DAY
MAX_PNL_FACTOR = E18 // 2  # traders' open profit may reach 50 % of the vault's assets
VAULT_USDC = 200_000


@pytest.fixture(scope="module")
def vsys(gov, accounts, oracle, MockAggregatorV3, MarginLedger, RiskEngine, PerpMarket, LiquidationModule, LPVault,
         Settlement, AutoDeleverager):
    """Real ledger, oracle, risk engine, ETH/BTC markets whose `pool` is an LPVault, liquidation,
    settlement (ledger hook + liquidation netting) and ADL. An LP (accounts[7]) owns the vault."""
    ledger = MarginLedger.deploy(gov, {"from": gov})
    lockbox = accounts[6].address
    ledger.registerSpoke(SPOKE, lockbox, {"from": gov})
    ledger.setValidators(SPOKE, sorted(cp_addresses(VALIDATOR_KEYS[:3]), key=lambda a: int(a, 16)), 2, {"from": gov})
    for asset, sym in ((USDC, "USDC"), (WETH, "WETH"), (WBTC, "WBTC")):
        token, dec = TOKENS[asset]
        ledger.listAsset(asset, sym, dec, {"from": gov})
        ledger.listToken(SPOKE, token, asset, dec, {"from": gov})
        ledger.setCollateralParams(asset, WEIGHTS[asset], 0, {"from": gov})
    insurance = accounts[8]
    ledger.setInsuranceFund(insurance, {"from": gov})
    aggs = {}
    for asset, price in ((USDC, 1), (WETH, 2_000), (WBTC, 30_000)):
        agg = MockAggregatorV3.deploy(8, {"from": gov})
        agg.push(price * 10**8)
        oracle.setAggregatorFeed(asset, agg, DAY, 10**12, 10**30, 5_000, {"from": gov})
        aggs[asset] = agg
    engine = RiskEngine.deploy(gov, ledger, oracle, {"from": gov})
    ledger.setRiskEngine(engine, {"from": gov})
    vault = LPVault.deploy(gov, ledger, engine, USDC, REDEEM_DELAY, MAX_PNL_FACTOR, {"from": gov})
    eth = PerpMarket.deploy(gov, ledger, oracle, engine, WETH, vault, ETH_PARAMS.as_tuple(), {"from": gov})
    btc = PerpMarket.deploy(gov, ledger, oracle, engine, WBTC, vault, BTC_PARAMS.as_tuple(), {"from": gov})
    liq = LiquidationModule.deploy(gov, ledger, engine, oracle, vault, LIQ_PARAMS, {"from": gov})
    settlement = Settlement.deploy(gov, ledger, vault, USDC, {"from": gov})
    adl = AutoDeleverager.deploy(engine, vault, {"from": gov})
    for m in (eth, btc):
        m.setOrderConfig((ORDER_MIN_DELAY, ORDER_MAX_DELAY, SETTLEMENT_REWARD), {"from": gov})
        engine.addMarket(m, {"from": gov})
        ledger.grantRole(MARGIN_ROLE, m, {"from": gov})
        m.grantRole(m.LIQUIDATOR_ROLE(), liq, {"from": gov})
        m.grantRole(m.LIQUIDATOR_ROLE(), adl, {"from": gov})
    for c in (liq, vault, settlement):
        ledger.grantRole(MARGIN_ROLE, c, {"from": gov})
    settlement.grantRole(settlement.SETTLER_ROLE(), liq, {"from": gov})
    ledger.setSettlement(settlement, {"from": gov})
    liq.setSettlement(settlement, {"from": gov})
    funder = LedgerFunder(ledger, lockbox, gov)
    lp = accounts[7]
    funder.deposit([(lp, USDC, VAULT_USDC * 10**6), (insurance, USDC, 100_000 * 10**6)])
    vault.deposit(VAULT_USDC * 10**6, {"from": lp})
    parts = {"ledger": ledger, "oracle": oracle, "aggs": aggs, "engine": engine, "eth": eth, "btc": btc, "liq": liq,
             "vault": vault, "pool": vault, "settlement": settlement, "adl": adl, "lp": lp, "insurance": insurance,
             "gov": gov, "funder": funder, "lockbox": lockbox, "eth_params": ETH_PARAMS}
    return type("VaultSystem", (), parts)


def wait_redeem_delay():
    """Moves time past the redemption delay (aggregator prices stay fresh: heartbeat is a day)."""
    chain.sleep(REDEEM_DELAY + 1)
    chain.mine()


def brownie_state_machine():
    """brownie's `state_machine` from its pure-Python source (see tests/contracts/solvency's
    solvency_support: the mypyc build rejects the machine class it generates itself)."""
    path = Path(brownie.test.__file__).with_name("stateful.py")
    spec = importlib.util.spec_from_file_location("brownie_stateful_source_margin", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.state_machine
