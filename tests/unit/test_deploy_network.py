"""`xmargin deploy <network>` end to end on three anvil chains standing in for the testnet (same
chain ids as Arbitrum Sepolia, Base Sepolia and Sepolia): the timelock holds governance, the deployer
holds nothing, the guardian can pause but not govern, a governance change lands only through
schedule + delay + execute, the record has the deploy blocks and the relayer loads it. The margin
engine of the plan works (a lockbox deposit credited by a validator-signed batch, oracle pushes, a
delayed order filled) and every privileged role of it is the hub timelock's."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from eth_account import Account
from eth_utils.crypto import keccak
from web3 import Web3
from web3.exceptions import ContractLogicError
from web3.logs import DISCARD

from relayer.chain.abi import load_artifact
from relayer.config import load_settings
from relayer.deployment import Deployment, load_deployment
from relayer.devnet.layout import ANVIL_DEV_KEYS
from relayer.keeper.pusher import to_answer
from relayer.proofs.checkpoint import Checkpoint, pack_signatures, sign
from relayer.proofs.hashchain import DepositMessage, fold
from relayer.types import ChainId, RouteKind

from local_services import fixed_port, start_anvil, stop_process

REPO = Path(__file__).resolve().parents[2]
CHAINS = {"arbitrum-sepolia": (fixed_port(8764), 421614), "base-sepolia": (fixed_port(8765), 84532),
          "sepolia": (fixed_port(8766), 11155111)}
DEPLOYER_KEY, GUARDIAN_KEY, PROPOSER_KEY, ISSUER_KEY, STRANGER_KEY = ANVIL_DEV_KEYS[:5]
DEPLOYER, GUARDIAN, PROPOSER, ISSUER, STRANGER = (Account.from_key(k).address for k in ANVIL_DEV_KEYS[:5])
LP, TRADER = (Account.from_key(k).address for k in ANVIL_DEV_KEYS[5:7])
GOVERNOR_ROLE, GUARDIAN_ROLE, ADMIN_ROLE = keccak(text="GOVERNOR_ROLE"), keccak(text="GUARDIAN_ROLE"), b"\0" * 32
MARGIN_ROLE, LIQUIDATOR_ROLE, SETTLER_ROLE = (keccak(text=r)
                                              for r in ("MARGIN_ROLE", "LIQUIDATOR_ROLE", "SETTLER_ROLE"))
DELAY_S = 3600
VALIDATOR_KEYS = [keccak(text=f"validator-{i}") for i in range(3)]
VALIDATORS = [Account.from_key(k).address for k in VALIDATOR_KEYS]
HUB = "arbitrum-sepolia"
PRICES = {"USDC": 1.0, "ETH": 3_000.0, "BTC": 60_000.0}
"""First round of each stand-in aggregator (the plan's feeds)."""
INSURANCE = Account.from_key(keccak(text="insurance-fund")).address
MAX_UINT = 2**256 - 1


@dataclass
class Deployed:
    record: Deployment
    w3: dict[str, Web3]
    config: Path
    ids: dict[str, int]

    def contract(self, chain: str, name: str, address: str) -> Any:
        return self.w3[chain].eth.contract(address=Web3.to_checksum_address(address), abi=load_artifact(name).abi)

    def ledger(self) -> Any:
        return self.contract("arbitrum-sepolia", "MarginLedger", self.record.hub.ledger)

    def lockbox(self, chain: str) -> Any:
        return self.contract(chain, "Lockbox", self.record.spokes[self.ids[chain]].lockbox)

    def timelock(self, chain: str) -> Any:
        assert self.record.governance is not None
        return self.contract(chain, "GovernanceTimelock", self.record.governance.timelocks[self.ids[chain]].address)

    def margin(self, name: str, address: str | None) -> Any:
        assert address is not None
        return self.contract(HUB, name, address)


def _deploy(w3: Web3, name: str, *args: Any) -> str:
    art = load_artifact(name)
    factory = w3.eth.contract(abi=art.abi, bytecode="0x" + art.bytecode.removeprefix("0x"))
    receipt = w3.eth.wait_for_transaction_receipt(factory.constructor(*args).transact({"from": ISSUER}))
    return str(receipt["contractAddress"])


def _mock_usdc(w3: Web3) -> str:
    return _deploy(w3, "MockERC20", "Test USDC", "USDC", 6)


def _mock_aggregator(w3: Web3, price: float) -> str:
    """A stand-in for a Chainlink feed, with a first round (the oracle anchors on it)."""
    address = _deploy(w3, "MockAggregatorV3", 8)
    aggregator = w3.eth.contract(address=Web3.to_checksum_address(address), abi=load_artifact("MockAggregatorV3").abi)
    _send(w3, aggregator.functions.push(to_answer(price)), ISSUER)
    return address


def _send(w3: Web3, call: Any, sender: str) -> Any:
    receipt = w3.eth.wait_for_transaction_receipt(call.transact({"from": sender}))
    assert receipt["status"] == 1
    return receipt


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    tmp = tmp_path_factory.mktemp("deploy")
    procs = [start_anvil(port, chain_id) for port, chain_id in CHAINS.values()]
    try:
        w3 = {name: Web3(Web3.HTTPProvider(f"http://127.0.0.1:{port}")) for name, (port, _) in CHAINS.items()}
        # The example config, with the anvils as its RPCs (env-configured RPCs would do the same).
        config = yaml.safe_load((REPO / "config/examples/testnet.yaml").read_text())
        for name, (port, _) in CHAINS.items():
            config["chains"][name]["rpc_urls"] = [f"http://127.0.0.1:{port}"]
        config["deployment_file"] = str(tmp / "deployments/testnet.json")
        (tmp / "config.yaml").write_text(yaml.safe_dump(config))
        # The testnet plan, with this run's governance accounts and stand-ins for Circle's USDC.
        plan = yaml.safe_load((REPO / "config/deploy/testnet.yaml").read_text())
        plan["config"] = str(tmp / "config.yaml")
        plan["governance"].update(min_delay_s=DELAY_S, proposers=[PROPOSER], guardian=GUARDIAN)
        plan["validators"] = VALIDATORS
        for chain, tokens in plan["tokens"].items():
            for token in tokens:
                if token["symbol"] == "USDC":
                    token["address"] = _mock_usdc(w3[chain])
        plan["margin"]["insurance_fund"] = INSURANCE  # stand-ins for the testnet's Chainlink feeds:
        for symbol, feed in plan["margin"]["feeds"].items():
            feed["aggregator"] = _mock_aggregator(w3[HUB], PRICES[symbol])
        (tmp / "plan.yaml").write_text(yaml.safe_dump(plan))
        proc = subprocess.run(
            [sys.executable, "-m", "relayer.cli", "deploy", "testnet", "--plan", str(tmp / "plan.yaml"),
             "--out", str(tmp / "deployments/testnet.json")],
            cwd=REPO, env={**os.environ, "XMARGIN_DEPLOYER_KEY": DEPLOYER_KEY}, capture_output=True, text=True,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        record = load_deployment(tmp / "deployments/testnet.json")
        yield Deployed(record, w3, tmp / "config.yaml", {n: c for n, (_, c) in CHAINS.items()})
    finally:
        for p in procs:
            stop_process(p)


def _contracts(d: Deployed) -> list[tuple[str, Any]]:
    return [("arbitrum-sepolia", d.ledger()), ("base-sepolia", d.lockbox("base-sepolia")),
            ("sepolia", d.lockbox("sepolia"))]


def test_the_timelock_governs_and_the_deployer_holds_nothing(deployed: Deployed) -> None:
    for chain, contract in _contracts(deployed):
        timelock = deployed.timelock(chain).address
        has = contract.functions.hasRole
        assert has(GOVERNOR_ROLE, timelock).call() and has(ADMIN_ROLE, timelock).call()
        assert not any(has(role, DEPLOYER).call() for role in (GOVERNOR_ROLE, ADMIN_ROLE, GUARDIAN_ROLE))
        assert has(GUARDIAN_ROLE, GUARDIAN).call()
        assert not has(GOVERNOR_ROLE, GUARDIAN).call() and not has(ADMIN_ROLE, GUARDIAN).call()
        assert deployed.timelock(chain).functions.getMinDelay().call() == DELAY_S
        # The timelock administers itself: nobody, the deployer included, holds its admin role.
        tl = deployed.timelock(chain).functions
        assert not tl.hasRole(ADMIN_ROLE, DEPLOYER).call()
        assert tl.hasRole(tl.PROPOSER_ROLE().call(), PROPOSER).call()


def test_the_guardian_pauses_but_cannot_change_parameters(deployed: Deployed) -> None:
    ledger, lockbox = deployed.ledger(), deployed.lockbox("base-sepolia")
    usdc = deployed.record.tokens[deployed.ids["base-sepolia"]]["USDC"].address
    for call in (ledger.functions.setCollateralParams(1, 5_000, 0),
                 ledger.functions.setValidators(84532, [GUARDIAN], 1),
                 lockbox.functions.setRateLimit(usdc, 10**30, 10**30), lockbox.functions.listToken(GUARDIAN),
                 lockbox.functions.grantRole(GOVERNOR_ROLE, GUARDIAN)):
        with pytest.raises(ContractLogicError):
            call.transact({"from": GUARDIAN})
    hub, spoke = deployed.w3["arbitrum-sepolia"].eth, deployed.w3["base-sepolia"].eth
    paused = ledger.functions.setWithdrawalsPaused(True).transact({"from": GUARDIAN})
    assert hub.wait_for_transaction_receipt(paused)["status"] == 1 and ledger.functions.withdrawalsPaused().call()
    paused = lockbox.functions.pauseDeposits().transact({"from": GUARDIAN})
    assert spoke.wait_for_transaction_receipt(paused)["status"] == 1
    assert lockbox.functions.paused().call()[0]
    for pause in (ledger.functions.setWithdrawalsPaused(False), lockbox.functions.unpauseDeposits()):
        pause.transact({"from": GUARDIAN})
    with pytest.raises(ContractLogicError):  # the deployer kept nothing, not even pause
        lockbox.functions.pauseDeposits().transact({"from": DEPLOYER})


def test_a_governance_change_needs_schedule_delay_and_execute(deployed: Deployed) -> None:
    w3 = deployed.w3["arbitrum-sepolia"]
    ledger, timelock = deployed.ledger(), deployed.timelock("arbitrum-sepolia")
    change = ledger.functions.setCollateralParams(2, 7_000, 0)
    with pytest.raises(ContractLogicError):  # not even the proposer may call it directly
        change.transact({"from": PROPOSER})
    data, salt, zero = change._encode_transaction_data(), b"\x01" * 32, b"\0" * 32
    op = (ledger.address, 0, data, zero, salt)
    with pytest.raises(ContractLogicError):  # a delay below the minimum is refused
        timelock.functions.schedule(*op, DELAY_S - 1).transact({"from": PROPOSER})
    with pytest.raises(ContractLogicError):  # only proposers schedule
        timelock.functions.schedule(*op, DELAY_S).transact({"from": STRANGER})
    w3.eth.wait_for_transaction_receipt(timelock.functions.schedule(*op, DELAY_S).transact({"from": PROPOSER}))
    with pytest.raises(ContractLogicError):  # scheduled, not ready
        timelock.functions.execute(*op).transact({"from": STRANGER})
    assert ledger.functions.assetInfo(2).call()[2] == 8_000
    w3.provider.make_request("evm_increaseTime", [DELAY_S])  # type: ignore[arg-type]
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    receipt = w3.eth.wait_for_transaction_receipt(timelock.functions.execute(*op).transact({"from": STRANGER}))
    assert receipt["status"] == 1
    assert ledger.functions.assetInfo(2).call()[2] == 7_000


def test_the_record_has_deploy_blocks_and_the_relayer_loads_it(deployed: Deployed) -> None:
    record = deployed.record
    assert record.network == "testnet" and record.governance is not None
    assert record.governance.guardian == GUARDIAN and record.governance.deployer == DEPLOYER
    placed = [("arbitrum-sepolia", record.hub.ledger, record.hub.deploy_block)]
    placed += [(n, record.spokes[deployed.ids[n]].lockbox, record.spokes[deployed.ids[n]].deploy_block)
               for n in ("base-sepolia", "sepolia")]
    timelocks = record.governance.timelocks
    placed += [(n, timelocks[deployed.ids[n]].address, timelocks[deployed.ids[n]].deploy_block) for n in CHAINS]
    for chain, address, block in placed:  # the first block with code: validators start scanning there
        eth = deployed.w3[chain].eth
        assert block > 0 and eth.get_code(address, block) and not eth.get_code(address, block - 1)
    settings = load_settings(deployed.config)
    loaded = load_deployment(settings.deployment_file)
    assert loaded == record
    assert {settings.chain(r.source_chain_id).name for r in loaded.routes()} == set(CHAINS)
    for route in loaded.routes():
        spoke = loaded.spokes[route.spoke_chain_id]
        expected = spoke.deploy_block if route.kind is RouteKind.DEPOSIT else loaded.hub.deploy_block
        assert loaded.source_deploy_block(route) == expected


def test_a_network_is_deployed_once(deployed: Deployed, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "relayer.cli", "deploy", "testnet", "--config", str(deployed.config),
         "--out", str(load_settings(deployed.config).deployment_file)],
        cwd=REPO, env={**os.environ, "XMARGIN_DEPLOYER_KEY": DEPLOYER_KEY}, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode != 0 and "exists" in proc.stdout + proc.stderr


def _credit(d: Deployed, deposits: list[tuple[str, int]]) -> None:
    """Deposit (whole) stand-in USDC into base-sepolia's lockbox for each account, then credit them
    on the hub with one batch signed by two of the plan's validators, as the relayer would."""
    spoke, w3 = "base-sepolia", d.w3["base-sepolia"]
    lockbox, ledger = d.lockbox(spoke), d.ledger()
    token = d.record.tokens[d.ids[spoke]]["USDC"].address
    usdc = d.contract(spoke, "MockERC20", token)
    messages = []
    for who, whole in deposits:
        amount = whole * 10**6
        _send(w3, usdc.functions.mint(who, amount), who)
        _send(w3, usdc.functions.approve(lockbox.address, amount), who)
        _send(w3, lockbox.functions.deposit(token, amount, who), who)
        messages.append(DepositMessage(depositor=who, account=who, token=token, amount=amount))
    nonce, head = lockbox.functions.depositRoute().call()
    processed, hub_head = ledger.functions.depositRoute(d.ids[spoke]).call()
    assert fold(bytes(hub_head), processed + 1, messages) == bytes(head)  # the batch is the lockbox's own
    checkpoint = Checkpoint(source_chain_id=d.ids[spoke], source=lockbox.address, nonce=nonce, head=head)
    signatures = pack_signatures({Account.from_key(k).address: sign(checkpoint, ChainId(d.ids[HUB]), ledger.address, k)
                                  for k in VALIDATOR_KEYS[:2]})
    _send(d.w3[HUB], ledger.functions.processDeposits([m.as_tuple() for m in messages], checkpoint.as_tuple(),
                                                      signatures), STRANGER)


def _push(d: Deployed, prices: dict[str, float]) -> None:
    """One new round on every feed's aggregator (`prices` over the start prices)."""
    assert d.record.margin is not None
    for symbol, feed in d.record.margin.feeds.items():
        _send(d.w3[HUB], d.margin("MockAggregatorV3", feed.aggregator).functions.push(
            to_answer(prices.get(symbol, PRICES[symbol]))), ISSUER)


def _governed(d: Deployed) -> list[tuple[str, Any]]:
    """Every margin contract with roles, as (artifact, bound contract)."""
    m = d.record.margin
    assert m is not None
    named = [("PriceOracle", m.oracle), ("RiskEngine", m.risk_engine), ("LPVault", m.vault),
             ("LiquidationModule", m.liquidation), ("Settlement", m.settlement),
             *(("PerpMarket", market.address) for market in m.markets.values())]
    return [(name, d.margin(name, address)) for name, address in named]


def test_the_deployed_margin_engine_credits_prices_and_fills_a_delayed_order(deployed: Deployed) -> None:
    d, hub = deployed, deployed.w3[HUB]
    m = d.record.margin
    assert m is not None and set(m.markets) == {"ETH-USD", "BTC-USD"} and m.insurance_fund == INSURANCE
    ledger, usdc = d.ledger(), d.record.assets["USDC"]
    assert ledger.functions.settlement().call() == m.settlement
    assert ledger.functions.riskEngine().call() == m.risk_engine

    limiter = d.contract(HUB, "InflowLimiter", ledger.functions.inflowLimiter().call())
    base = d.ids["base-sepolia"]  # the plan's inflow buckets (whole asset units) in ledger units
    assert tuple(limiter.functions.inflowLimitOf(base, usdc).call()) == (500_000 * 10**18, 50 * 10**18)
    assert tuple(limiter.functions.inflowLimitOf(base, d.record.assets["ETH"]).call()) == (200 * 10**18, 2 * 10**16)
    _credit(d, [(LP, 200_000), (TRADER, 10_000)])  # within the bucket: credited at once
    assert ledger.functions.balanceOf(TRADER, usdc).call() == 10_000 * 10**18
    assert ledger.functions.balanceOf(LP, usdc).call() == 200_000 * 10**18

    # An oracle push: a new aggregator round reaches the oracle (syncFeed) at its exact price.
    oracle, eth = d.margin("PriceOracle", m.oracle), m.feeds["ETH"].feed_id
    _push(d, {"ETH": 3_010.0})
    synced = _send(hub, oracle.functions.syncFeed(eth), STRANGER)
    assert oracle.events.AggregatorSynced().process_receipt(synced, errors=DISCARD)
    price, _, status = oracle.functions.getPrice(eth).call()
    assert (price, status) == (3_010 * 10**18, 0)  # PriceStatus.Ok

    # The LP funds the vault (every market's counterparty); the trader's delayed order fills at the
    # first round published after its delay, settled by a keeper (anyone).
    vault, market = d.margin("LPVault", m.vault), d.margin("PerpMarket", m.markets["ETH-USD"].address)
    _send(hub, vault.functions.deposit(150_000 * 10**18), LP)
    assert vault.functions.totalShares().call() > 0
    min_delay, max_delay, _ = market.functions.orderConfig().call()
    assert (min_delay, max_delay) == (2, 3600)  # the plan's, not the contract's defaults
    _send(hub, market.functions.commitOrder(10**18, MAX_UINT), TRADER)
    hub.provider.make_request("evm_increaseTime", [min_delay])  # type: ignore[arg-type]
    _push(d, {"ETH": 3_020.0})
    round_id = d.margin("MockAggregatorV3", m.feeds["ETH"].aggregator).functions.latestRoundData().call()[0]
    settled = _send(hub, market.functions.settleOrder(TRADER, round_id), STRANGER)
    (fill,) = market.events.OrderSettled().process_receipt(settled, errors=DISCARD)
    assert fill["args"]["price"] > 3_000 * 10**18 and fill["args"]["keeper"] == STRANGER
    assert market.functions.marginState(TRADER).call()[0] == 10**18  # long 1 ETH


def test_every_privileged_margin_role_is_the_hub_timelocks(deployed: Deployed) -> None:
    d = deployed
    timelock, ledger = d.timelock(HUB).address, d.ledger()
    for name, contract in _governed(d):
        has = contract.functions.hasRole
        assert has(GOVERNOR_ROLE, timelock).call() and has(ADMIN_ROLE, timelock).call(), name
        roles = (GOVERNOR_ROLE, ADMIN_ROLE, GUARDIAN_ROLE, MARGIN_ROLE, LIQUIDATOR_ROLE, SETTLER_ROLE)
        assert not any(has(role, DEPLOYER).call() for role in roles), name
        assert not has(GOVERNOR_ROLE, GUARDIAN).call() and not has(ADMIN_ROLE, GUARDIAN).call(), name
        assert has(GUARDIAN_ROLE, GUARDIAN).call() == (name == "PerpMarket"), name  # a pause where there is one
    m = d.record.margin
    assert m is not None
    margin_holders = [m.liquidation, m.vault, m.settlement, *(market.address for market in m.markets.values())]
    assert all(ledger.functions.hasRole(MARGIN_ROLE, who).call() for who in margin_holders)
    assert not ledger.functions.hasRole(MARGIN_ROLE, DEPLOYER).call()


def test_no_margin_parameter_can_be_changed_by_the_deployer_or_the_guardian(deployed: Deployed) -> None:
    contracts = dict(_governed(deployed))
    oracle, engine, vault = contracts["PriceOracle"], contracts["RiskEngine"], contracts["LPVault"]
    liquidation, settlement, market = contracts["LiquidationModule"], contracts["Settlement"], contracts["PerpMarket"]
    ledger, m = deployed.ledger(), deployed.record.margin
    assert m is not None
    changes = [
        oracle.functions.setAggregatorFeed(2, m.feeds["ETH"].aggregator, 60, 1, 10**30, 10_000),
        oracle.functions.resolveFeed(2), oracle.functions.setSequencerFeed(DEPLOYER, 0),
        oracle.functions.setSigners([DEPLOYER], 1), engine.functions.addMarket(DEPLOYER),
        engine.functions.removeMarket(market.address), vault.functions.setParams(0, 10**18),
        liquidation.functions.setParams((10**18, 0, 0, 0)), liquidation.functions.setSettlement(DEPLOYER),
        settlement.functions.grantRole(SETTLER_ROLE, DEPLOYER), market.functions.setOrderConfig((1, 2, 0)),
        market.functions.setParams(market.functions.params().call()),
        market.functions.grantRole(LIQUIDATOR_ROLE, DEPLOYER), market.functions.setOpeningPaused(False),
        ledger.functions.setRiskEngine(DEPLOYER), ledger.functions.setInsuranceFund(DEPLOYER),
        ledger.functions.setSettlement(DEPLOYER), ledger.functions.grantRole(MARGIN_ROLE, DEPLOYER),
    ]
    for who in (DEPLOYER, GUARDIAN):
        for change in changes:
            with pytest.raises(ContractLogicError):
                change.transact({"from": who})
    with pytest.raises(ContractLogicError):  # the deployer cannot even pause
        market.functions.setOpeningPaused(True).transact({"from": DEPLOYER})


def test_the_guardian_pauses_a_market_and_only_the_timelock_resumes_it(deployed: Deployed) -> None:
    w3 = deployed.w3[HUB]
    market = dict(_governed(deployed))["PerpMarket"]
    timelock = deployed.timelock(HUB)
    _send(w3, market.functions.setOpeningPaused(True), GUARDIAN)
    assert market.functions.openingPaused().call()
    resume = market.functions.setOpeningPaused(False)
    with pytest.raises(ContractLogicError):  # resuming adds trust back: governance only
        resume.transact({"from": GUARDIAN})
    op = (market.address, 0, resume._encode_transaction_data(), b"\0" * 32, b"\x02" * 32)
    _send(w3, timelock.functions.schedule(*op, DELAY_S), PROPOSER)
    w3.provider.make_request("evm_increaseTime", [DELAY_S])  # type: ignore[arg-type]
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    _send(w3, timelock.functions.execute(*op), STRANGER)
    assert not market.functions.openingPaused().call()
