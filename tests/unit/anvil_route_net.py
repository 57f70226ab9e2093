"""Two real anvil chains (hub and spoke) with the ledger, a lockbox and a token deployed, for the
validator and submitter tests on anvil (a uniquely named module the test files import)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_utils import keccak
from web3 import Web3

from relayer.chain.abi import build_dir, load_artifact
from relayer.chain.client import ChainClient
from relayer.config import ChainConfig, Deployment
from relayer.store.redis_store import Store
from relayer.types import RouteId
from relayer.validator.service import Validator
from relayer.validator.signer_db import SignerDb

from _roles_fixtures import roles_redis_url  # noqa: F401  (fixture)
from local_services import start_anvil, stop_process

pytestmark = pytest.mark.skipif(
    not all((build_dir() / f"{n}.json").exists() for n in ("Lockbox", "MarginLedger", "MockERC20")),
    reason=f"contract artifacts Lockbox/MarginLedger/MockERC20 missing in {build_dir()} "
    "(brownie compile with the ledger and lockbox branches merged, or set XMARGIN_BUILD_DIR)",
)

HUB_ID, SPOKE_ID = 31337, 31338
CONFIRMATIONS = 2
DEPLOYER_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"  # anvil dev 0
SUBMITTER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"  # anvil dev 1
USER_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"  # anvil dev 2
VALIDATOR_KEYS = ["0x" + keccak(text=f"xmargin-test-validator-{i}").hex() for i in range(4)]
THRESHOLD = 3
GOVERNOR_ROLE = keccak(text="GOVERNOR_ROLE")
USDC_DECIMALS, ASSET_ID, SCALE = 6, 1, 10**12
DEPOSIT_ROUTE = RouteId.parse(f"deposit:{SPOKE_ID}->{HUB_ID}")
WITHDRAWAL_ROUTE = RouteId.parse(f"withdrawal:{HUB_ID}->{SPOKE_ID}")


def _wait(w3: Web3, tx_hash: bytes) -> None:
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.05)
    assert receipt["status"] == 1


def _deploy(w3: Web3, name: str, *args: object) -> str:
    art = load_artifact(name)
    tx = w3.eth.contract(abi=art.abi, bytecode=art.bytecode).constructor(*args).transact()
    receipt = w3.eth.wait_for_transaction_receipt(tx, timeout=30, poll_latency=0.05)
    return receipt["contractAddress"]


@dataclass
class Net:
    hub: Web3
    spoke: Web3
    deployment: Deployment
    clients: dict[int, ChainClient]
    ledger: object
    lockbox: object
    usdc: object
    user: str


def _setup(hub_port: int, spoke_port: int) -> Net:
    hub, spoke = (Web3(Web3.HTTPProvider(f"http://127.0.0.1:{p}")) for p in (hub_port, spoke_port))
    deployer = Account.from_key(DEPLOYER_KEY).address
    user = Account.from_key(USER_KEY).address
    validators = [Account.from_key(k).address for k in VALIDATOR_KEYS]
    for w3 in (hub, spoke):
        w3.eth.default_account = deployer
    ledger_addr = _deploy(hub, "MarginLedger", deployer)
    lockbox_addr = _deploy(spoke, "Lockbox", HUB_ID, ledger_addr, deployer)
    usdc_addr = _deploy(spoke, "MockERC20", "USD Coin", "USDC", USDC_DECIMALS)
    ledger = hub.eth.contract(address=ledger_addr, abi=load_artifact("MarginLedger").abi)
    lockbox = spoke.eth.contract(address=lockbox_addr, abi=load_artifact("Lockbox").abi)
    usdc = spoke.eth.contract(address=usdc_addr, abi=load_artifact("MockERC20").abi)
    for fn in (
        ledger.functions.listAsset(ASSET_ID, "USDC", 18),
        ledger.functions.registerSpoke(SPOKE_ID, lockbox_addr),
        ledger.functions.listToken(SPOKE_ID, usdc_addr, ASSET_ID, USDC_DECIMALS),
        ledger.functions.setValidators(SPOKE_ID, validators, THRESHOLD),
    ):
        _wait(hub, fn.transact())
    for fn in (
        lockbox.functions.listToken(usdc_addr),
        lockbox.functions.setRateLimit(usdc_addr, 10**12, 10**9),
        lockbox.functions.setValidators(HUB_ID, validators, THRESHOLD),
        usdc.functions.mint(user, 10**12),
    ):
        _wait(spoke, fn.transact())
    _wait(spoke, usdc.functions.approve(lockbox_addr, 2**256 - 1).transact({"from": user}))
    deployment = Deployment(
        hub={"chain_id": HUB_ID, "ledger": ledger_addr},
        spokes={SPOKE_ID: {"lockbox": lockbox_addr}},
        validators=validators,
        threshold=THRESHOLD,
        assets={"USDC": ASSET_ID},
    )
    clients = {
        chain_id: ChainClient(
            ChainConfig(
                name=role, chain_id=chain_id, rpc_urls=[f"http://127.0.0.1:{port}"], role=role,
                confirmations=CONFIRMATIONS, log_chunk=50,
            )
        )
        for chain_id, port, role in ((HUB_ID, hub_port, "hub"), (SPOKE_ID, spoke_port, "spoke"))
    }
    return Net(hub, spoke, deployment, clients, ledger, lockbox, usdc, user)


def _deposit(net: Net, amounts: list[int]) -> None:
    """All `amounts` deposited in ONE spoke block (automine off while they are sent)."""
    net.spoke.provider.make_request("evm_setAutomine", [False])
    try:
        deposit = net.lockbox.functions.deposit
        hashes = [deposit(net.usdc.address, a, net.user).transact({"from": net.user}) for a in amounts]
        net.spoke.provider.make_request("evm_mine", [])
    finally:
        net.spoke.provider.make_request("evm_setAutomine", [True])
    for h in hashes:
        _wait(net.spoke, h)


def _finalize(w3: Web3) -> None:
    w3.provider.make_request("anvil_mine", [hex(CONFIRMATIONS)])


def _credited(net: Net) -> int:
    return net.ledger.functions.balanceOf(net.user, ASSET_ID).call()


@contextmanager
def running_net(hub_port: int, spoke_port: int) -> Iterator[Net]:
    """Both anvil chains started, the contracts deployed; the chains stopped afterwards."""
    procs = [start_anvil(hub_port, HUB_ID), start_anvil(spoke_port, SPOKE_ID)]
    try:
        yield _setup(hub_port, spoke_port)
    finally:
        for proc in procs:
            stop_process(proc)


def net_fixture(hub_port: int, spoke_port: int) -> Any:
    """A module-scoped `net` fixture on these ports (assign it to `net` in the test module)."""

    @pytest.fixture(scope="module")
    def net() -> Iterator[Net]:
        with running_net(hub_port, spoke_port) as started:
            yield started

    return net


def store_fixture(prefix: str) -> Any:
    """A module-scoped `store` fixture: the roles' Redis under its own key prefix (the module must
    import the `roles_redis_url` fixture)."""

    @pytest.fixture(scope="module")
    def store(roles_redis_url: str) -> Iterator[Store]:  # noqa: F811
        opened = Store(roles_redis_url, prefix=prefix)
        yield opened
        opened.redis.close()

    return store


def make_validators(net: Net, store: Store, root: Path, count: int = THRESHOLD) -> list[Validator]:
    """`count` of the set's validators (the threshold by default), each with its own signing record."""
    return [
        Validator(f"v{i}", VALIDATOR_KEYS[i], SignerDb(root / f"v{i}.sqlite"), store, net.deployment, net.clients)
        for i in range(count)
    ]
