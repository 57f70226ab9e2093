"""Deploy a real network from its plan: a GovernanceTimelock per chain, the ledger on the hub, a
lockbox per spoke, listings and validator sets configured by the deployer, the margin engine on the
hub (relayer.deploy.margin, shared with the devnet), then GOVERNOR_ROLE and DEFAULT_ADMIN_ROLE of
every contract handed to its chain's timelock, GUARDIAN_ROLE to the guardian where a contract has a
guardian action (ledger, lockboxes, markets), and every role of the deployer renounced (checked on
chain before the record is written). Transactions go through the
devnet's Deployer (relayer.chain.sender: fee policy, replacement, deadline)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_utils.crypto import keccak

from relayer.config import ChainConfig, Settings
from relayer.deploy.margin import LIQUIDATOR_ROLE, MARGIN_ROLE, SETTLER_ROLE, MarginContracts, deploy_engine
from relayer.deploy.margin_plan import units
from relayer.deploy.plan import DeployPlan
from relayer.deployment import (
    Deployment,
    GovernanceDeployment,
    HubDeployment,
    SpokeDeployment,
    TimelockDeployment,
    TokenInfo,
)
from relayer.devnet.deploy import Deployer
from relayer.devnet.layout import ChainSpec
from relayer.errors import DevnetError
from relayer.types import ChainId

GOVERNOR_ROLE = keccak(text="GOVERNOR_ROLE")
GUARDIAN_ROLE = keccak(text="GUARDIAN_ROLE")
DEFAULT_ADMIN_ROLE = b"\x00" * 32
HANDED_OVER = (GOVERNOR_ROLE, DEFAULT_ADMIN_ROLE)
"""Roles the timelock takes over from the deployer on every contract."""
NEVER_THE_DEPLOYERS = (*HANDED_OVER, GUARDIAN_ROLE, MARGIN_ROLE, LIQUIDATOR_ROLE, SETTLER_ROLE)
"""Roles the deployer must not hold anywhere once the deploy is done."""


def connect(chain: ChainConfig, key: str) -> Deployer:
    """A deployer on `chain`'s first RPC URL (the chain id is checked before anything is sent)."""
    spec = ChainSpec(name=chain.name, chain_id=chain.chain_id, port=0, role="hub" if chain.role == "hub" else "spoke",
                     confirmations=0)
    deployer = Deployer.connect(spec, chain.rpc_urls[0], key)
    deployer.estimate_deploys = True
    got = int(deployer.w3.eth.chain_id)
    if got != chain.chain_id:
        raise DevnetError(f"{chain.name}: {chain.rpc_urls[0]} is chain {got}, the config says {chain.chain_id}")
    return deployer


def deploy_network(plan: DeployPlan, settings: Settings, key: str, report: Callable[[str], None] = print) -> Deployment:
    """Deploy and hand over everything in `plan` on the chains of `settings`; returns the record."""
    hub_chain = settings.hub
    spokes = [settings.chains[name] for name in plan.tokens]
    for spoke in spokes:
        if spoke.role != "spoke":
            raise DevnetError(f"plan lists tokens on {spoke.name}, which is not a spoke in {plan.config}")
    txs = {c.name: connect(c, key) for c in (hub_chain, *spokes)}
    deployer = Account.from_key(key).address
    gov = plan.governance

    # Phase 1: a timelock per chain, the ledger, the lockboxes (they take the ledger's address unmined).
    timelocks = {name: tx.deploy("GovernanceTimelock", gov.min_delay_s, gov.proposers, gov.executors)
                 for name, tx in txs.items()}
    ledger_addr = txs[hub_chain.name].deploy("MarginLedger", deployer)
    lockboxes = {s.name: txs[s.name].deploy("Lockbox", hub_chain.chain_id, ledger_addr, deployer) for s in spokes}
    for tx in txs.values():
        tx.wait()
    report(f"{plan.network}: ledger {ledger_addr} on {hub_chain.name}; lockboxes "
           + ", ".join(f"{k} {v}" for k, v in lockboxes.items()))

    # Phase 2: listings, validator sets, rate limits (the deployer is still governor).
    _configure(plan, txs, hub_chain, spokes, ledger_addr, lockboxes)
    hub_tx = txs[hub_chain.name]
    assets = {a.symbol: a.asset_id for a in plan.assets}
    margin: MarginContracts | None = None
    if plan.margin is not None:  # wired while the deployer still administers the ledger
        margin = deploy_engine(hub_tx, ledger_addr, plan.margin, assets, report)

    # Phase 3: hand over: timelock governs, guardian pauses, the deployer renounces everything.
    # (contract, whether the guardian gets GUARDIAN_ROLE on it) per chain.
    contracts = {hub_chain.name: [(hub_tx.contract("MarginLedger", ledger_addr), True)]}
    if margin is not None:
        contracts[hub_chain.name] += [(hub_tx.contract(name, address), address in margin.guarded)
                                      for name, address in margin.governed]
    for s in spokes:
        contracts[s.name] = [(txs[s.name].contract("Lockbox", lockboxes[s.name]), True)]
    for name, bound in contracts.items():
        _hand_over(txs[name], bound, timelocks[name], gov.guardian)
    for tx in txs.values():
        tx.wait()
    for name, bound in contracts.items():
        _check_handed_over(bound, timelocks[name], gov.guardian, deployer)
    report(f"{plan.network}: governance of {sum(len(b) for b in contracts.values())} contracts with the timelocks "
           f"({gov.min_delay_s} s), guardian {gov.guardian}, deployer {deployer} holds no role")

    return Deployment(
        network=plan.network,
        hub=HubDeployment(chain_id=hub_chain.chain_id, ledger=ledger_addr,
                          deploy_block=hub_tx.deployed_at[ledger_addr]),
        spokes={s.chain_id: SpokeDeployment(lockbox=lockboxes[s.name],
                                            deploy_block=txs[s.name].deployed_at[lockboxes[s.name]])
                for s in spokes},
        tokens={s.chain_id: {t.symbol: TokenInfo(address=t.address, decimals=t.decimals) for t in plan.tokens[s.name]}
                for s in spokes},
        assets=assets,
        validators=plan.validators,
        threshold=plan.threshold,
        governance=GovernanceDeployment(
            timelocks={
                ChainId(txs[name].spec.chain_id): TimelockDeployment(
                    address=address, min_delay_s=gov.min_delay_s, deploy_block=txs[name].deployed_at[address])
                for name, address in timelocks.items()
            },
            proposers=gov.proposers, executors=gov.executors, guardian=gov.guardian, deployer=deployer,
        ),
        margin=margin.record if margin is not None else None,
    )


def _configure(plan: DeployPlan, txs: dict[str, Deployer], hub_chain: ChainConfig, spokes: list[ChainConfig],
               ledger_addr: str, lockboxes: dict[str, str]) -> None:
    """Assets, spokes, validator sets, token listings, inflow and outflow limits, sent by the deployer."""
    hub_tx = txs[hub_chain.name]
    ledger = hub_tx.contract("MarginLedger", ledger_addr)
    for asset in plan.assets:
        hub_tx.call(f"list asset {asset.symbol}",
                    ledger.functions.listAsset(asset.asset_id, asset.symbol, asset.decimals))
        hub_tx.call(f"collateral {asset.symbol}", ledger.functions.setCollateralParams(
            asset.asset_id, asset.weight_bps, asset.supply_cap * 10**asset.decimals))
    asset_ids = {a.symbol: a.asset_id for a in plan.assets}
    asset_decimals = {a.symbol: a.decimals for a in plan.assets}
    for spoke in spokes:
        tx = txs[spoke.name]
        lockbox = tx.contract("Lockbox", lockboxes[spoke.name])
        hub_tx.call(f"register {spoke.name}", ledger.functions.registerSpoke(spoke.chain_id, lockboxes[spoke.name]))
        hub_tx.call(f"validators for {spoke.name}",
                    ledger.functions.setValidators(spoke.chain_id, plan.validators, plan.threshold))
        tx.call("validators for the hub",
                lockbox.functions.setValidators(hub_chain.chain_id, plan.validators, plan.threshold))
        for token in plan.tokens[spoke.name]:
            hub_tx.call(f"list {token.symbol}@{spoke.name}", ledger.functions.listToken(
                spoke.chain_id, token.address, asset_ids[token.asset], token.decimals))
            hub_tx.call(f"inflow limit {token.symbol}@{spoke.name}", ledger.functions.setInflowLimit(
                spoke.chain_id, asset_ids[token.asset], units(token.inflow_capacity, asset_decimals[token.asset]),
                units(token.inflow_refill_per_s, asset_decimals[token.asset])))
            tx.call(f"list {token.symbol}", lockbox.functions.listToken(token.address))
            tx.call(f"rate limit {token.symbol}", lockbox.functions.setRateLimit(
                token.address, token.rate_capacity * 10**token.decimals, token.rate_refill_per_s * 10**token.decimals))
    for tx in txs.values():
        tx.wait()


def _hand_over(tx: Deployer, contracts: list[tuple[Any, bool]], timelock: str, guardian: str) -> None:
    """Timelock gets governance and admin, the guardian GUARDIAN_ROLE where flagged, the deployer renounces."""
    for contract, guarded in contracts:
        for role in HANDED_OVER:
            tx.call(f"role {role.hex()[:8]} to the timelock", contract.functions.grantRole(role, timelock))
        if guarded:
            tx.call("guardian", contract.functions.grantRole(GUARDIAN_ROLE, guardian))
        for role in HANDED_OVER:  # admin last: renouncing it first would still work, but reads worse
            tx.call(f"renounce {role.hex()[:8]}", contract.functions.renounceRole(role, tx.account.address))


def _check_handed_over(contracts: list[tuple[Any, bool]], timelock: str, guardian: str, deployer: str) -> None:
    """On chain: the timelock holds governance and admin, the guardian only GUARDIAN_ROLE (where
    flagged), the deployer nothing."""
    for contract, guarded in contracts:
        has = contract.functions.hasRole
        wrong = [what for what, ok in (
            ("timelock lacks GOVERNOR_ROLE", has(GOVERNOR_ROLE, timelock).call()),
            ("timelock lacks DEFAULT_ADMIN_ROLE", has(DEFAULT_ADMIN_ROLE, timelock).call()),
            (f"guardian {'lacks' if guarded else 'holds'} GUARDIAN_ROLE",
             has(GUARDIAN_ROLE, guardian).call() == guarded),
            ("guardian holds GOVERNOR_ROLE", not has(GOVERNOR_ROLE, guardian).call()),
            ("guardian holds DEFAULT_ADMIN_ROLE", not has(DEFAULT_ADMIN_ROLE, guardian).call()),
            *((f"deployer holds {r.hex()[:8]}", not has(r, deployer).call()) for r in NEVER_THE_DEPLOYERS),
        ) if not ok]
        if wrong:
            raise DevnetError(f"hand-over of {contract.address} incomplete: {', '.join(wrong)}")


def write_record(deployment: Deployment, path: Path) -> None:
    """deployments/<network>.json (validated again by reading it back as the relayer does)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(deployment.model_dump_json(indent=2) + "\n")
