"""Deploy and configure the devnet's contracts with web3, then write deployment.json and the configs.

Hub (31337): MarginLedger and the margin engine (deploy_margin). Spoke A (31338): Lockbox, USDC (6
decimals), WETH (18), WBTC (8). Spoke B (31339): Lockbox, USDC (6), the native coin. Ledger assets:
USDC (id 1), ETH (id 2) and BTC (id 3), 18 decimals each. Validator sets 3-of-5 on the ledger (per
spoke) and on each lockbox (for the hub). Transactions of one phase are sent back to back through
relayer.chain.sender and awaited together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from eth_account import Account
from eth_utils.crypto import keccak
from web3 import Web3
from web3.contract import Contract
from web3.types import Nonce as Web3Nonce
from web3.utils import get_create_address

from relayer.chain.abi import Artifact, load_artifact
from relayer.chain.nonces import LocalNonceLock, NonceManager
from relayer.chain.sender import FeePolicy, Fees, PendingTx, TxRequest, TxSender
from relayer.deployment import Deployment, HubDeployment, SpokeDeployment, TokenInfo
from relayer.devnet.deploy_margin import deploy_margin, fund_on_spoke
from relayer.devnet.layout import (
    DEPLOYER_KEY,
    KEEPER_COUNT,
    KEEPER_KEYS,
    ORACLE_KEY,
    SUBMITTER_KEY,
    TRADER_KEYS,
    USER_KEYS,
    VALIDATOR_COUNT,
    VALIDATOR_THRESHOLD,
    ChainSpec,
    DevnetLayout,
    validator_address,
    validator_key,
    validator_name,
)
from relayer.errors import ArtifactMissingError, DevnetError
from relayer.types import NATIVE_TOKEN, ChainId

GOVERNOR_ROLE = keccak(text="GOVERNOR_ROLE")
GUARDIAN_ROLE = keccak(text="GUARDIAN_ROLE")
CALL_GAS = 1_500_000
"""Gas limit of configuration calls (sent before earlier ones are mined, so not estimated)."""
DEPLOY_GAS = 8_000_000


@dataclass(frozen=True)
class AssetSpec:
    """A ledger asset."""

    asset_id: int
    symbol: str
    decimals: int
    weight_bps: int


@dataclass(frozen=True)
class TokenSpec:
    """A token on a spoke: a mock ERC20 to deploy, or the native coin."""

    chain: str
    symbol: str
    decimals: int
    asset: str
    native: bool = False
    mint_units: int = 0
    """Whole tokens minted to each user (mock ERC20s only; native coin comes from anvil)."""
    rate_capacity_units: int = 1_000_000
    rate_refill_units: int = 1_000
    """Outflow bucket of the lockbox: capacity and refill per second, in whole tokens."""
    inflow_capacity_units: int = 1_000_000_000
    inflow_refill_units: int = 10_000_000
    """Inflow bucket of the hub ledger for this (spoke, asset), in whole tokens: generous on the
    devnet (no scenario comes near it), so every route runs the limiter's code path."""


ASSETS: tuple[AssetSpec, ...] = (
    AssetSpec(asset_id=1, symbol="USDC", decimals=18, weight_bps=10_000),
    AssetSpec(asset_id=2, symbol="ETH", decimals=18, weight_bps=8_000),
    AssetSpec(asset_id=3, symbol="BTC", decimals=18, weight_bps=8_000),
)
TOKENS: tuple[TokenSpec, ...] = (
    TokenSpec(chain="spoke-a", symbol="USDC", decimals=6, asset="USDC", mint_units=1_000_000),
    TokenSpec(chain="spoke-a", symbol="WETH", decimals=18, asset="ETH", mint_units=1_000, rate_capacity_units=1_000,
              rate_refill_units=10),
    TokenSpec(chain="spoke-a", symbol="WBTC", decimals=8, asset="BTC", mint_units=100, rate_capacity_units=100,
              rate_refill_units=1),
    TokenSpec(chain="spoke-b", symbol="USDC", decimals=6, asset="USDC", mint_units=1_000_000),
    TokenSpec(chain="spoke-b", symbol="ETH", decimals=18, asset="ETH", native=True, rate_capacity_units=1_000,
              rate_refill_units=10),
)


def artifact(name: str) -> Artifact:
    """ABI and creation code of a compiled contract; DevnetError naming the fix if it is missing."""
    try:
        data = load_artifact(name)
    except ArtifactMissingError as err:
        raise DevnetError(f"{err} (run `make compile` first)") from err
    if not data.bytecode:
        raise DevnetError(f"artifact {name} has no bytecode (abstract contract or interface?)")
    return data


class Deployer:
    """One account's transactions on one chain, sent back to back through the transaction sender
    (nonces from its own lock: the deployer key is used by this process only) and awaited per phase."""

    def __init__(self, spec: ChainSpec, sender: TxSender) -> None:
        self.spec = spec
        self.sender = sender
        self.w3 = sender.w3
        self.account = sender.account
        self._pending: list[PendingTx] = []
        self._fees: Fees | None = None
        self.deployed_at: dict[str, int] = {}
        """Address -> block of every contract this deployer created (filled by wait())."""
        self.estimate_deploys = False
        """Estimate each deployment's gas (+25 %) instead of DEPLOY_GAS: real networks, where an
        L2's gas units include its L1 data cost (a constructor never reads earlier unmined state)."""

    @classmethod
    def connect(cls, spec: ChainSpec, url: str, key: str) -> Deployer:
        """A deployer for `spec` at `url`, sending from `key`."""
        w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 10}))
        account = Account.from_key(key)
        nonces = NonceManager(LocalNonceLock(), lambda: w3.eth.get_transaction_count(account.address, "pending"))
        policy = FeePolicy(poll_s=0.25)
        return cls(spec, TxSender(w3, account, ChainId(spec.chain_id), nonces, policy, chain=spec.name))

    def _submit(self, request: TxRequest) -> PendingTx:
        """Broadcast now (fees read once per phase); wait() collects the receipt."""
        if self._fees is None:
            self._fees = self.sender.current_fees()
        pending = self.sender.submit(request, self._fees)
        self._pending.append(pending)
        return pending

    def deploy(self, name: str, *args: Any) -> str:
        """Send a deployment; returns the address it will have."""
        data = artifact(name)
        factory = self.w3.eth.contract(abi=data.abi, bytecode="0x" + data.bytecode.removeprefix("0x"))
        code = factory.constructor(*args).build_transaction({"gas": DEPLOY_GAS, "from": self.account.address})["data"]
        what = f"deploy {name} on {self.spec.name}"
        gas = DEPLOY_GAS
        if self.estimate_deploys:
            gas = self.w3.eth.estimate_gas({"from": self.account.address, "data": code}) * 5 // 4
        pending = self._submit(TxRequest(to=None, data=bytes.fromhex(code[2:]), gas=gas, what=what))
        return Web3.to_checksum_address(get_create_address(self.account.address, Web3Nonce(pending.nonce)))

    def contract(self, name: str, address: str) -> Contract:
        """A bound contract on this chain."""
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=artifact(name).abi)

    def call(self, what: str, fn: Any, value: int = 0) -> None:
        """Send a contract function call (fixed gas: earlier calls of the phase may not be mined yet)."""
        request = TxRequest.call(fn, value=value, gas=CALL_GAS)
        self._submit(TxRequest(request.to, request.data, value, CALL_GAS, f"{what} on {self.spec.name}"))

    def wait(self) -> None:
        """Wait for every transaction of the phase (deadline and replacement: the sender's policy);
        DevnetError on a revert."""
        pending, self._pending, self._fees = self._pending, [], None
        for item in pending:
            sent = self.sender.wait(item)
            if sent.status != 1:
                raise DevnetError(f"{item.request.what} reverted (tx {sent.tx_hash})")
            if sent.contract_address:
                self.deployed_at[Web3.to_checksum_address(sent.contract_address)] = sent.block_number


def _units(whole: int, decimals: int) -> int:
    """Whole tokens in the token's smallest units."""
    return int(whole * 10**decimals)


def deploy(layout: DevnetLayout, report: Callable[[str], None] = print) -> Deployment:
    """Deploy and configure everything on the layout's running chains; returns the Deployment."""
    txs = {c.name: Deployer.connect(c, layout.rpc_url(c), DEPLOYER_KEY) for c in layout.chains}
    hub = next(c for c in layout.chains if c.role == "hub")
    spokes = [c for c in layout.chains if c.role == "spoke"]
    deployer = txs[hub.name].account.address
    validators = [validator_address(i) for i in range(1, VALIDATOR_COUNT + 1)]
    users = [Account.from_key(k).address for k in (*USER_KEYS.values(), *TRADER_KEYS.values())]

    # Phase 1: contracts (the lockboxes take the ledger's address before it is mined).
    ledger_addr = txs[hub.name].deploy("MarginLedger", deployer)
    lockboxes: dict[str, str] = {}
    tokens: dict[tuple[str, str], str] = {}
    for spoke in spokes:
        tx = txs[spoke.name]
        for token in (t for t in TOKENS if t.chain == spoke.name):
            tokens[(spoke.name, token.symbol)] = (
                NATIVE_TOKEN if token.native else tx.deploy("MockERC20", f"Devnet {token.symbol}", token.symbol, token.decimals)
            )
        lockboxes[spoke.name] = tx.deploy("Lockbox", hub.chain_id, ledger_addr, deployer)
    for tx in txs.values():
        tx.wait()
    report(f"ledger {ledger_addr} on {hub.name}; lockboxes " + ", ".join(f"{k} {v}" for k, v in lockboxes.items()))

    # Phase 2: listings, validator sets, rate limits, roles, user funds.
    hub_tx = txs[hub.name]
    ledger = hub_tx.contract("MarginLedger", ledger_addr)
    hub_tx.call("grant guardian", ledger.functions.grantRole(GUARDIAN_ROLE, deployer))
    for asset in ASSETS:
        hub_tx.call(f"list asset {asset.symbol}", ledger.functions.listAsset(asset.asset_id, asset.symbol, asset.decimals))
        hub_tx.call(f"collateral {asset.symbol}", ledger.functions.setCollateralParams(asset.asset_id, asset.weight_bps, 0))
    asset_ids = {a.symbol: a.asset_id for a in ASSETS}
    for spoke in spokes:
        hub_tx.call(f"register {spoke.name}", ledger.functions.registerSpoke(spoke.chain_id, lockboxes[spoke.name]))
        hub_tx.call(
            f"validators for {spoke.name}",
            ledger.functions.setValidators(spoke.chain_id, validators, VALIDATOR_THRESHOLD),
        )
        tx = txs[spoke.name]
        lockbox = tx.contract("Lockbox", lockboxes[spoke.name])
        tx.call("grant guardian", lockbox.functions.grantRole(GUARDIAN_ROLE, deployer))
        tx.call("validators for hub", lockbox.functions.setValidators(hub.chain_id, validators, VALIDATOR_THRESHOLD))
        for token in (t for t in TOKENS if t.chain == spoke.name):
            address = tokens[(spoke.name, token.symbol)]
            hub_tx.call(
                f"list {token.symbol}@{spoke.name}",
                ledger.functions.listToken(spoke.chain_id, address, asset_ids[token.asset], token.decimals),
            )
            asset_decimals = next(a.decimals for a in ASSETS if a.symbol == token.asset)
            hub_tx.call(
                f"inflow limit {token.symbol}@{spoke.name}",
                ledger.functions.setInflowLimit(
                    spoke.chain_id, asset_ids[token.asset], _units(token.inflow_capacity_units, asset_decimals),
                    _units(token.inflow_refill_units, asset_decimals),
                ),
            )
            tx.call(f"list {token.symbol}", lockbox.functions.listToken(address))
            tx.call(
                f"rate limit {token.symbol}",
                lockbox.functions.setRateLimit(
                    address, _units(token.rate_capacity_units, token.decimals), _units(token.rate_refill_units, token.decimals)
                ),
            )
            if not token.native and token.mint_units:
                erc20 = tx.contract("MockERC20", address)
                for user in users:
                    tx.call(f"mint {token.symbol} to {user}", erc20.functions.mint(user, _units(token.mint_units, token.decimals)))
    funding = spokes[0]  # the LP, insurance fund and keepers get their USDC through spoke A
    usdc = next(t for t in TOKENS if t.chain == funding.name and t.symbol == "USDC")
    fund_on_spoke(txs[funding.name], lockboxes[funding.name], tokens[(funding.name, "USDC")], usdc.decimals)
    for tx in txs.values():
        tx.wait()

    # Phase 3: the margin engine on the hub.
    margin = deploy_margin(hub_tx, ledger_addr, asset_ids, report)

    deployment = Deployment(
        hub=HubDeployment(chain_id=hub.chain_id, ledger=ledger_addr),
        spokes={s.chain_id: SpokeDeployment(lockbox=lockboxes[s.name]) for s in spokes},
        tokens={
            s.chain_id: {
                t.symbol: TokenInfo(address=tokens[(s.name, t.symbol)], decimals=t.decimals)
                for t in TOKENS
                if t.chain == s.name
            }
            for s in spokes
        },
        assets=asset_ids,
        validators=validators,
        threshold=VALIDATOR_THRESHOLD,
        margin=margin,
    )
    write_files(layout, deployment)
    return deployment


def _chains_section(layout: DevnetLayout) -> dict[str, Any]:
    """The `chains:` mapping of every config file."""
    return {
        c.name: {
            "chain_id": c.chain_id,
            "rpc_urls": [layout.rpc_url(c)],
            "role": c.role,
            "finality": "depth",
            "confirmations": c.confirmations,
            "devnet": True,  # local anvils: a depth policy, 0 allowed (docs/finality.md)
            "log_chunk": 1000,
            "poll_interval": float(layout.block_time),  # one tick per block: ~35% of a core for the devnet
        }
        for c in layout.chains
    }


DEV_ONLY_HEADER = (
    "# Generated by `xmargin devnet deploy`. DEV ONLY: the keys below are anvil's public dev keys\n"
    "# and throwaway validator keys. Never use them on a real network.\n"
)


def config_documents(layout: DevnetLayout) -> dict[Path, dict[str, Any]]:
    """config.yaml (submitter, status, API, CLI), one config per validator (own key and database), per
    keeper (own key) and the oracle pusher's (own key)."""
    common: dict[str, Any] = {
        "redis_url": layout.redis_url,
        "chains": _chains_section(layout),
        "deployment_file": str(layout.deployment_path),
        "api": {"host": "0.0.0.0" if layout.service_hosts else "127.0.0.1", "port": layout.api_port},
    }
    demo = {**USER_KEYS, **TRADER_KEYS}  # the web app acts for the devnet's users (DEV ONLY)
    docs: dict[Path, dict[str, Any]] = {
        layout.config_path: {
            **common,
            "submitter": {"key": SUBMITTER_KEY, "stuck_after_s": 20.0, "fee_bump_pct": 20},
            "api": {**common["api"], "demo_accounts": demo},
        }
    }
    for i in range(1, VALIDATOR_COUNT + 1):
        # A validator's config names its chain RPCs, its key and the APIs it publishes to (over HTTP:
        # it writes nothing into the relayer's Redis; redis_url is only its own Celery broker).
        docs[layout.validator_config_path(i)] = {
            "redis_url": layout.redis_url,
            "chains": _chains_section(layout),
            "deployment_file": str(layout.deployment_path),
            "validator": {
                "name": validator_name(i), "key": validator_key(i), "db_path": str(layout.validator_db_path(i)),
                "publish_to": [layout.api_url],
            },
        }
    for i in range(1, KEEPER_COUNT + 1):
        docs[layout.keeper_config_path(i)] = {**common, "keeper": {"key": KEEPER_KEYS[i - 1], "max_repay_usd": 50_000}}
    docs[layout.oracle_config_path] = {**common, "oracle": {"key": ORACLE_KEY, "step_s": 1.0, "refresh_s": 5.0}}
    return docs


def write_files(layout: DevnetLayout, deployment: Deployment) -> None:
    """deployment.json and the config files (validator configs readable by their owner only)."""
    layout.dir_abs.mkdir(parents=True, exist_ok=True)
    layout.deployment_path.write_text(deployment.model_dump_json(indent=2) + "\n")
    for path, doc in config_documents(layout).items():
        path.write_text(DEV_ONLY_HEADER + yaml.safe_dump(doc, sort_keys=False))
        path.chmod(0o600)
    for i in range(1, VALIDATOR_COUNT + 1):
        layout.validator_db_path(i).parent.mkdir(parents=True, exist_ok=True)
