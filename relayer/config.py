"""Operator settings: a YAML file plus XMARGIN_* environment overrides (the deployment record
lives in relayer.deployment)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from eth_account import Account
from eth_account.signers.local import LocalAccount
from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from relayer._pydantic import problems as _problems, strict as _strict
from relayer.deployment import (  # re-exported for callers of relayer.config
    Deployment as Deployment,
    FeedDeployment as FeedDeployment,
    HubDeployment as HubDeployment,
    MarginDeployment as MarginDeployment,
    MarketDeployment as MarketDeployment,
    SpokeDeployment as SpokeDeployment,
    TokenInfo as TokenInfo,
    load_deployment as load_deployment,
)
from relayer.errors import ConfigError
from relayer.types import MAX_SUBMIT_BATCH, ChainId, ChainIdField

CONFIG_ENV = "XMARGIN_CONFIG"
"""Environment variable naming the YAML settings file when no path is given."""



FinalityKind = Literal["finalized", "safe", "depth", "l1"]
"""How a chain's final block is found (docs/finality.md):
- `finalized` / `safe`: the node's block tag (Ethereum and chains whose nodes serve it; the default);
- `depth`: head - `confirmations` (chains without a meaningful tag; 0 only with `devnet: true`);
- `l1`: an L2 block is final once the L1 block it reports is final by the L1 chain's own policy."""
OP_L1_BLOCK_PREDEPLOY = "0x4200000000000000000000000000000000000015"
"""OP-stack L1Block predeploy: `number()` is the L1 block the L2 block was derived from."""


class ChainConfig(BaseModel):
    """One chain the relayer talks to."""

    model_config = _strict

    name: str = ""
    """Filled from the key under `chains:`; used in logs and errors."""
    chain_id: ChainIdField
    rpc_urls: Annotated[list[str], Field(min_length=1)]
    """Tried in order; the next one on connection errors and timeouts (each checked for `chain_id` first)."""
    role: Literal["hub", "spoke", "l1"]
    """`l1`: read only as the settlement layer of an L2 chain with `finality: l1`."""
    finality: FinalityKind = "finalized"
    """The finality policy; `depth` when only `confirmations` is given (older configs)."""
    confirmations: Annotated[int, Field(ge=0)] = 12
    """Blocks below head before a block counts as final, for `finality: depth` only."""
    devnet: bool = False
    """A local development chain: allows `confirmations: 0`. Never set it for a real network."""
    l1_chain: str | None = None
    """For `finality: l1`: name (under `chains:`) of the L1 chain this L2 settles on."""
    l1_block_contract: str = OP_L1_BLOCK_PREDEPLOY
    """For `finality: l1`: contract whose `number()` at an L2 block is the L1 block it reports."""
    cross_check_url: str | None = None
    """Optional second provider: every header the validator signs on is compared with its copy."""
    log_chunk: Annotated[int, Field(gt=0)] = 2000
    """Blocks per eth_getLogs request."""
    poll_interval: Annotated[float, Field(gt=0)] = 2.0
    """Seconds between polls of this chain."""
    rpc_timeout_s: Annotated[float, Field(gt=0)] = 10.0
    rpc_retries: Annotated[int, Field(ge=0, le=10)] = 3
    """Extra rounds over all URLs for read methods, with capped exponential backoff."""

    @model_validator(mode="before")
    @classmethod
    def _depth_when_only_confirmations(cls, data: Any) -> Any:
        """A config that names `confirmations` but no `finality` means a depth policy."""
        if isinstance(data, dict) and "confirmations" in data and "finality" not in data:
            return {**data, "finality": "depth"}
        return data

    @model_validator(mode="after")
    def _finality_consistent(self) -> ChainConfig:
        """`confirmations: 0` only on a devnet; `l1` names its L1 chain."""
        if self.finality == "depth" and self.confirmations == 0 and not self.devnet:
            raise ValueError("confirmations: 0 is only allowed with devnet: true (use a finality tag on real networks)")
        if self.finality == "l1" and not self.l1_chain:
            raise ValueError("finality: l1 needs l1_chain (the name of the L1 chain under chains:)")
        return self

    @field_validator("rpc_urls")
    @classmethod
    def _http_urls(cls, urls: list[str]) -> list[str]:
        """Only HTTP(S) endpoints are supported."""
        for url in urls:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"not an http(s) URL: {url!r}")
        return urls

    def policy_text(self) -> str:
        """The finality policy in a few words (status output, logs)."""
        if self.finality == "depth":
            return f"depth {self.confirmations}" + (" (devnet)" if self.devnet else "")
        if self.finality == "l1":
            return f"l1 ({self.l1_chain})"
        return f"tag {self.finality}"


def _check_private_key(key: SecretStr) -> SecretStr:
    """A 32-byte hex private key; the message never repeats the value."""
    try:
        Account.from_key(key.get_secret_value())
    except Exception:  # noqa: BLE001  any parse failure means the same thing; its text may echo the key
        raise ValueError("must be a 32-byte hex private key") from None
    return key


def _address(key: SecretStr) -> str:
    """Checksummed address of a (validated) private key."""
    account: LocalAccount = Account.from_key(key.get_secret_value())
    return account.address


class ValidatorConfig(BaseModel):
    """This process's validator identity and its signing-protection database."""

    model_config = _strict

    name: str
    key: SecretStr
    """Signing key; never logged."""
    db_path: Path
    """Signing-protection SQLite file, on the validator's own disk (not Redis)."""
    publish_to: list[str] = Field(default_factory=list)
    """Relayer API base URLs the signatures are POSTed to (each verifies them); empty: straight into
    this process's Redis (`redis_url`), for an operator running its own relayer."""
    max_blocks_per_tick: Annotated[int, Field(gt=0, le=5000)] = 64
    """Source blocks one tick of one route verifies at most: a short tick commits its progress often
    and a killed worker loses little; the beat sends the next tick (docs/operator.md)."""
    fetch_threads: Annotated[int, Field(gt=0, le=64)] = 8
    """Reads (headers, receipts, state) of this validator in flight at once, to hide RPC latency."""

    _valid_key = field_validator("key")(_check_private_key)

    @field_validator("publish_to")
    @classmethod
    def _api_urls(cls, urls: list[str]) -> list[str]:
        """HTTP(S) base URLs."""
        for url in urls:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"not an http(s) URL: {url!r}")
        return urls

    @property
    def address(self) -> str:
        """Checksummed address of the signing key."""
        return _address(self.key)


MAX_IN_FLIGHT = 16
"""Upper bound of `submitter.max_in_flight`: every batch in flight was built on an unconfirmed one."""
MAX_KEEPER_IN_FLIGHT = 256
"""Upper bound of `keeper.max_in_flight` (relayer.keeper.inflight.MAX_KEEPER_IN_FLIGHT)."""
MAX_PREPARE_AHEAD = 32
"""Upper bound of `keeper.prepare_ahead` (relayer.keeper.inflight.MAX_PREPARE_AHEAD)."""


class SubmitterConfig(BaseModel):
    """The relayer account that pays for batches."""

    model_config = _strict

    key: SecretStr
    """Sending key; never logged."""
    max_batch: Annotated[int, Field(gt=0, le=MAX_SUBMIT_BATCH)] = MAX_SUBMIT_BATCH
    """Most messages per batch; the destination's block gas usually limits first (block_gas_share)."""
    block_gas_share: Annotated[float, Field(gt=0, le=1)] = 0.4
    """Share of a destination block's gas limit one batch may use (the hub's blocks serve every spoke)."""
    stuck_after_s: Annotated[float, Field(gt=0)] = 60.0
    fee_bump_pct: Annotated[int, Field(ge=10, le=1000)] = 15
    """Fee increase per replacement (nodes require at least 10%)."""
    max_in_flight: Annotated[int, Field(ge=1, le=MAX_IN_FLIGHT)] = 4
    """Batches of one route sent and not yet confirmed at once (consecutive transaction nonces)."""
    pipeline_s: Annotated[float, Field(gt=0)] = 5.0
    """How long one tick keeps sending new batches of its route while earlier ones are in flight;
    then it only confirms them (the worker's threads serve the other routes too)."""

    _valid_key = field_validator("key")(_check_private_key)

    @property
    def address(self) -> str:
        """Checksummed address of the sending key."""
        return _address(self.key)


class KeeperConfig(BaseModel):
    """The keeper account: pays for liquidations and buys collateral with its own ledger balance."""

    model_config = _strict

    key: SecretStr
    """Sending key; never logged. Its address needs hub gas and, to buy collateral, ledger collateral."""
    max_repay_usd: Annotated[int, Field(ge=0)] = 1_000_000
    """Whole USD one liquidation may spend buying collateral (0: close positions only)."""
    stuck_after_s: Annotated[float, Field(gt=0)] = 20.0
    fee_bump_pct: Annotated[int, Field(ge=10, le=1000)] = 15
    max_in_flight: Annotated[int, Field(ge=1, le=MAX_KEEPER_IN_FLIGHT)] = 32
    """Liquidation transactions sent and not yet mined at once (consecutive nonces of the keeper key)."""
    block_gas_share: Annotated[float, Field(gt=0, le=1)] = 0.5
    """Share of a hub block's gas limit (counted in the liquidations' simulated gas) this keeper's
    liquidations may take per block; a second keeper takes its own share."""
    prepare_ahead: Annotated[int, Field(ge=1, le=MAX_PREPARE_AHEAD)] = 4
    """Accounts claimed and simulated at once, on worker threads, ahead of their send (1: one at a time)."""

    _valid_key = field_validator("key")(_check_private_key)

    @property
    def address(self) -> str:
        """Checksummed address of the keeper key."""
        return _address(self.key)


class OracleConfig(BaseModel):
    """The oracle pusher (devnet): pushes queued price paths into aggregators and keeps prices fresh."""

    model_config = _strict

    key: SecretStr
    """Sending key; never logged."""
    step_s: Annotated[float, Field(gt=0)] = 1.0
    """Seconds between two steps of a queued price path."""
    refresh_s: Annotated[float, Field(gt=0)] = 20.0
    """A feed whose latest round is this old is pushed again at the same price (below the heartbeat)."""

    _valid_key = field_validator("key")(_check_private_key)

    @property
    def address(self) -> str:
        """Checksummed address of the pusher key."""
        return _address(self.key)


class ApiConfig(BaseModel):
    """Where the read API listens."""

    model_config = _strict

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8000
    demo_accounts: dict[str, SecretStr] = Field(default_factory=dict)
    """DEV ONLY: name -> key of accounts the web app may act for through /v1/actions (the devnet's
    users). Empty on a real deployment: there the page signs with the user's own wallet."""


_yaml_path: ContextVar[Path | None] = ContextVar("xmargin_yaml_path", default=None)


def _read_yaml(path: Path) -> dict[str, Any]:
    """The mapping in a YAML file, or ConfigError."""
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as err:
        raise ConfigError([("<file>", f"cannot read: {err.strerror}")], str(path)) from err
    except yaml.YAMLError as err:
        # Only the position and the problem: the offending line itself may hold a key.
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or type(err).__name__
        raise ConfigError([("<file>", f"not valid YAML{where}: {problem}")], str(path)) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([("<file>", "top level must be a mapping")], str(path))
    return data


class _YamlSource(PydanticBaseSettingsSource):
    """Lowest-priority source: the YAML file given to load_settings or named by XMARGIN_CONFIG."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Unused: the whole mapping is returned by __call__."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = _yaml_path.get()
        if path is None and os.environ.get(CONFIG_ENV):
            path = Path(os.environ[CONFIG_ENV])
        return _read_yaml(path) if path is not None else {}


class Settings(BaseSettings):
    """Everything a relayer process needs; env `XMARGIN_A__B=...` overrides YAML `a: {b: ...}`."""

    model_config = SettingsConfigDict(
        env_prefix="XMARGIN_", env_nested_delimiter="__", extra="forbid", hide_input_in_errors=True
    )

    redis_url: str = "redis://127.0.0.1:6379/0"
    chains: dict[str, ChainConfig] = Field(default_factory=dict)
    """Chain name -> chain; exactly one has role `hub` when any are given."""
    deployment_file: Path = Path(".devnet/deployment.json")
    """JSON written by `devnet up` / deploy (see Deployment)."""
    validator: ValidatorConfig | None = None
    submitter: SubmitterConfig | None = None
    keeper: KeeperConfig | None = None
    oracle: OracleConfig | None = None
    api: ApiConfig = Field(default_factory=ApiConfig)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Priority: init kwargs, then environment, then the YAML file."""
        return init_settings, env_settings, _YamlSource(settings_cls)

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, url: str) -> str:
        """Only redis:// and rediss:// URLs."""
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return url

    @field_validator("chains")
    @classmethod
    def _one_hub_unique_ids(cls, chains: dict[str, ChainConfig]) -> dict[str, ChainConfig]:
        """Names filled in; chain ids unique; exactly one hub."""
        ids = [c.chain_id for c in chains.values()]
        if len(set(ids)) != len(ids):
            raise ValueError(f"chain ids must be unique, got {sorted(ids)}")
        hubs = [name for name, c in chains.items() if c.role == "hub"]
        if chains and len(hubs) != 1:
            raise ValueError(f"exactly one chain must have role 'hub', got {hubs}")
        for name, c in chains.items():
            if c.finality == "l1" and (c.l1_chain not in chains or c.l1_chain == name):
                raise ValueError(f"chain {name}: l1_chain {c.l1_chain!r} is not another chain under chains:")
        return {name: c.model_copy(update={"name": name}) for name, c in chains.items()}

    @property
    def hub(self) -> ChainConfig:
        """The hub chain; ConfigError if no chains are configured."""
        for chain in self.chains.values():
            if chain.role == "hub":
                return chain
        raise ConfigError([("chains", "no hub chain configured")])

    def chain(self, chain_id: ChainId) -> ChainConfig:
        """Configured chain with this id; ConfigError if none."""
        for chain in self.chains.values():
            if chain.chain_id == chain_id:
                return chain
        raise ConfigError([("chains", f"no chain with chain_id {chain_id}")])


@contextmanager
def _yaml_file(path: Path | None) -> Iterator[None]:
    """Point the YAML source at `path` for one Settings construction."""
    token = _yaml_path.set(path)
    try:
        yield
    finally:
        _yaml_path.reset(token)


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Settings from `path` (or $XMARGIN_CONFIG) with env overrides; ConfigError naming bad fields."""
    if path is not None and not Path(path).is_file():
        raise ConfigError([("<file>", "no such file")], str(path))
    try:
        with _yaml_file(Path(path) if path is not None else None):
            return Settings(**overrides)
    except ValidationError as err:
        raise ConfigError(_problems(err), str(path) if path else None) from err
