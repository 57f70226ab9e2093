"""`xmargin deploy <network>` end to end on three anvil chains standing in for the testnet (same
chain ids as Arbitrum Sepolia, Base Sepolia and Sepolia): the timelock holds governance, the deployer
holds nothing, the guardian can pause but not govern, a governance change lands only through
schedule + delay + execute, the record has the deploy blocks and the relayer loads it."""

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

from relayer.chain.abi import load_artifact
from relayer.config import load_settings
from relayer.deployment import Deployment, load_deployment
from relayer.devnet.layout import ANVIL_DEV_KEYS
from relayer.types import RouteKind

from local_services import fixed_port, start_anvil, stop_process

REPO = Path(__file__).resolve().parents[2]
CHAINS = {"arbitrum-sepolia": (fixed_port(8764), 421614), "base-sepolia": (fixed_port(8765), 84532),
          "sepolia": (fixed_port(8766), 11155111)}
DEPLOYER_KEY, GUARDIAN_KEY, PROPOSER_KEY, ISSUER_KEY, STRANGER_KEY = ANVIL_DEV_KEYS[:5]
DEPLOYER, GUARDIAN, PROPOSER, ISSUER, STRANGER = (Account.from_key(k).address for k in ANVIL_DEV_KEYS[:5])
GOVERNOR_ROLE, GUARDIAN_ROLE, ADMIN_ROLE = keccak(text="GOVERNOR_ROLE"), keccak(text="GUARDIAN_ROLE"), b"\0" * 32
DELAY_S = 3600
VALIDATORS = [Account.from_key(keccak(text=f"validator-{i}")).address for i in range(3)]


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


def _mock_usdc(w3: Web3) -> str:
    art = load_artifact("MockERC20")
    factory = w3.eth.contract(abi=art.abi, bytecode="0x" + art.bytecode.removeprefix("0x"))
    tx = factory.constructor("Test USDC", "USDC", 6).transact({"from": ISSUER})
    receipt = w3.eth.wait_for_transaction_receipt(tx)
    return str(receipt["contractAddress"])


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
