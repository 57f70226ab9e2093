"""Devnet layout as data: chains, ports, directory, Redis and the dev-only keys (pure, no I/O)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from eth_account import Account
from eth_utils import keccak
from pydantic import BaseModel, ConfigDict, Field

# --------------------------------------------------------------------------------------------
# DEV-ONLY KEYS. Never use them on a real network: they are public.
# Funded roles use anvil's well-known dev accounts (mnemonic "test test ... junk", accounts 0-3);
# validators use throwaway keys derived from a fixed label (they sign, they never pay gas).
# --------------------------------------------------------------------------------------------
ANVIL_DEV_KEYS: tuple[str, ...] = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
)
"""Anvil's default dev accounts 0..8 (public knowledge; funded with 10,000 ETH on every anvil)."""
DEPLOYER_KEY = ANVIL_DEV_KEYS[0]
"""Deploys and governs the devnet contracts (admin, governor and guardian roles). DEV ONLY."""
SUBMITTER_KEY = ANVIL_DEV_KEYS[1]
"""Pays the gas of batch submissions on every chain. DEV ONLY."""
USER_KEYS: dict[str, str] = {"alice": ANVIL_DEV_KEYS[2], "bob": ANVIL_DEV_KEYS[3]}
"""The scenario's two users; `xmargin deposit/withdraw` default to alice's key. DEV ONLY."""
KEEPER_KEYS: tuple[str, ...] = (ANVIL_DEV_KEYS[4], ANVIL_DEV_KEYS[5])
"""Keeper 1 (run by the devnet) and keeper 2 (a spare identity for a competing keeper). DEV ONLY."""
ORACLE_KEY = ANVIL_DEV_KEYS[6]
"""Pays for the oracle pusher's aggregator rounds. DEV ONLY."""
TRADER_KEYS: dict[str, str] = {"carol": ANVIL_DEV_KEYS[7]}
"""The margin scenario's trader. DEV ONLY."""
LP_KEY = ANVIL_DEV_KEYS[8]
"""The devnet's liquidity provider: its USDC seeds the LP vault (the markets' counterparty) through
`LPVault.deposit` once the relayer has credited it. DEV ONLY."""
INSURANCE_LABEL = "xmargin-devnet-insurance-fund"
"""Label of the insurance fund account (a passive ledger account; nobody signs for it)."""
KEEPER_COUNT = len(KEEPER_KEYS)
VALIDATOR_COUNT = 5
VALIDATOR_THRESHOLD = 3


def validator_key(index: int) -> str:
    """Deterministic throwaway key of devnet validator `index` (1-based). DEV ONLY."""
    return "0x" + keccak(text=f"xmargin-devnet-validator-{index}").hex()


def validator_address(index: int) -> str:
    """Address of devnet validator `index`."""
    return Account.from_key(validator_key(index)).address


def validator_name(index: int) -> str:
    """Process and config name of devnet validator `index`."""
    return f"validator-{index}"


def keeper_name(index: int) -> str:
    """Process and config name of devnet keeper `index` (1-based)."""
    return f"keeper-{index}"


def label_address(label: str) -> str:
    """The address of a fixed label's throwaway key (the insurance fund). DEV ONLY."""
    return Account.from_key(keccak(text=label)).address


class ChainSpec(BaseModel):
    """One anvil chain of the devnet."""

    model_config = ConfigDict(frozen=True)

    name: str
    """Name in config.yaml and the compose service name."""
    chain_id: int
    port: int
    role: Literal["hub", "spoke"]
    confirmations: int = Field(ge=0)
    """Blocks on top of a block before validators treat it as final."""


class DevnetLayout(BaseModel):
    """Where everything of one devnet lives; the devnet, the compose file and the tests share it."""

    model_config = ConfigDict(frozen=True)

    dir: Path = Path(".devnet")
    """Deployment, configs, validator databases, logs and pid file."""
    base_port: int = 18545
    """Hub RPC port; spokes use the next ports, the API the one after them."""
    block_time: int = Field(default=1, ge=1)
    """Seconds between blocks (anvil interval mining) on every chain."""
    confirmations: int = Field(default=2, ge=0)
    """Finality depth on every chain (small: a devnet, not a mainnet)."""
    redis_url: str = "redis://127.0.0.1:6379/0"
    service_hosts: bool = False
    """True inside docker compose: RPC URLs use the chain's service name instead of 127.0.0.1."""

    @property
    def dir_abs(self) -> Path:
        """The devnet directory as an absolute path (written into configs)."""
        return self.dir if self.dir.is_absolute() else Path.cwd() / self.dir

    @property
    def chains(self) -> list[ChainSpec]:
        """Hub, spoke A, spoke B with the default devnet chain ids."""
        return [
            ChainSpec(name="hub", chain_id=31337, port=self.base_port, role="hub", confirmations=self.confirmations),
            ChainSpec(
                name="spoke-a", chain_id=31338, port=self.base_port + 1, role="spoke", confirmations=self.confirmations
            ),
            ChainSpec(
                name="spoke-b", chain_id=31339, port=self.base_port + 2, role="spoke", confirmations=self.confirmations
            ),
        ]

    @property
    def api_port(self) -> int:
        """Port of the read API."""
        return self.base_port + 3

    @property
    def api_url(self) -> str:
        """Base URL of the read API as the other processes reach it (validators publish there)."""
        host = "api" if self.service_hosts else "127.0.0.1"
        return f"http://{host}:{self.api_port}"

    def chain(self, name: str) -> ChainSpec:
        """The chain named `name`; KeyError if there is none."""
        for spec in self.chains:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def rpc_url(self, chain: ChainSpec) -> str:
        """RPC URL of a chain as every other process reaches it."""
        host = chain.name if self.service_hosts else "127.0.0.1"
        return f"http://{host}:{chain.port}"

    @property
    def config_path(self) -> Path:
        """Shared config: chains, Redis, deployment file, submitter (read by status, api, cli)."""
        return self.dir_abs / "config.yaml"

    def validator_config_path(self, index: int) -> Path:
        """Config of validator `index`: the shared fields plus its own key and database."""
        return self.dir_abs / f"{validator_name(index)}.yaml"

    def keeper_config_path(self, index: int) -> Path:
        """Config of keeper `index`: the shared fields plus its own key."""
        return self.dir_abs / f"{keeper_name(index)}.yaml"  # specs.keeper_spec names the same file

    @property
    def oracle_config_path(self) -> Path:
        """Config of the oracle pusher: the shared fields plus its key."""
        return self.dir_abs / "oracle.yaml"

    def validator_db_path(self, index: int) -> Path:
        """Signing-protection database of validator `index` (its own disk, never Redis)."""
        return self.dir_abs / validator_name(index) / "signer.db"

    @property
    def deployment_path(self) -> Path:
        """Addresses written by the deploy step."""
        return self.dir_abs / "deployment.json"

    @property
    def log_dir(self) -> Path:
        """One log file per process."""
        return self.dir_abs / "logs"

    @property
    def pid_file(self) -> Path:
        """Process groups started by a detached `devnet up`, for `devnet down`."""
        return self.dir_abs / "pids.json"

    @property
    def redis_is_local(self) -> bool:
        """Whether the Redis URL points at this machine (the devnet may start it)."""
        return (urlsplit(self.redis_url).hostname or "") in ("127.0.0.1", "localhost")

    @classmethod
    def from_env(cls, **overrides: object) -> DevnetLayout:
        """Layout from defaults, XMARGIN_DEVNET_* / XMARGIN_REDIS_URL env vars, then `overrides`."""
        values: dict[str, object] = {}
        env = os.environ
        if "XMARGIN_DEVNET_DIR" in env:
            values["dir"] = Path(env["XMARGIN_DEVNET_DIR"])
        if "XMARGIN_DEVNET_BASE_PORT" in env:
            values["base_port"] = int(env["XMARGIN_DEVNET_BASE_PORT"])
        if "XMARGIN_DEVNET_BLOCK_TIME" in env:
            values["block_time"] = int(env["XMARGIN_DEVNET_BLOCK_TIME"])
        if "XMARGIN_DEVNET_CONFIRMATIONS" in env:
            values["confirmations"] = int(env["XMARGIN_DEVNET_CONFIRMATIONS"])
        if "XMARGIN_REDIS_URL" in env:
            values["redis_url"] = env["XMARGIN_REDIS_URL"]
        if env.get("XMARGIN_DEVNET_SERVICE_HOSTS", "") in ("1", "true", "yes"):
            values["service_hosts"] = True
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)

    def to_env(self) -> dict[str, str]:
        """Environment from which `from_env` rebuilds this layout (given to the deploy one-shot)."""
        env = {
            "XMARGIN_DEVNET_DIR": str(self.dir),
            "XMARGIN_DEVNET_BASE_PORT": str(self.base_port),
            "XMARGIN_DEVNET_BLOCK_TIME": str(self.block_time),
            "XMARGIN_DEVNET_CONFIRMATIONS": str(self.confirmations),
            "XMARGIN_REDIS_URL": self.redis_url,
        }
        if self.service_hosts:
            env["XMARGIN_DEVNET_SERVICE_HOSTS"] = "1"
        return env
