"""The deploy plan of one network (config/deploy/<network>.yaml): which chains (from the relayer's
config), who governs, which validators, assets and tokens, and the margin engine (margin_plan).
Pydantic, so a bad plan fails before any transaction is sent."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from relayer._pydantic import problems as _problems, strict as _strict
from relayer.deploy.margin_plan import MarginPlan
from relayer.errors import ConfigError
from relayer.types import NATIVE_TOKEN, Address

ANYONE = "0x0000000000000000000000000000000000000000"
"""As a timelock executor: anyone may execute an operation once its delay has passed."""
MIN_REAL_DELAY_S = 3600
"""Shortest timelock delay a plan may ask for without `allow_short_delay` (a test stand-in only)."""


class GovernancePlan(BaseModel):
    """Who governs: the timelock's proposers, executors and delay, and the guardian."""

    model_config = _strict

    min_delay_s: Annotated[int, Field(ge=0)]
    """Seconds every governance change waits between schedule and execute."""
    proposers: Annotated[list[Address], Field(min_length=1)]
    """Schedule and cancel operations (the governance multisig); the same on every chain."""
    executors: list[Address] = Field(default_factory=lambda: [ANYONE])
    """Execute ready operations; the zero address (default) lets anyone do it."""
    guardian: Address
    """Gets GUARDIAN_ROLE only (pause, and the trust-reducing actions): no timelock in front of it."""
    allow_short_delay: bool = False
    """Accept `min_delay_s` below an hour (local stand-in networks in tests only)."""

    @model_validator(mode="after")
    def _delay_long_enough(self) -> GovernancePlan:
        """A real network's delay is at least an hour: a change must be visible before it lands."""
        if self.min_delay_s < MIN_REAL_DELAY_S and not self.allow_short_delay:
            raise ValueError(f"min_delay_s {self.min_delay_s} is below {MIN_REAL_DELAY_S} s")
        return self


class AssetPlan(BaseModel):
    """A ledger asset (ledger units: `decimals`, 18 throughout the project)."""

    model_config = _strict

    asset_id: Annotated[int, Field(gt=0, lt=2**32)]
    symbol: str
    decimals: Annotated[int, Field(ge=0, le=36)] = 18
    weight_bps: Annotated[int, Field(ge=0, le=10_000)]
    """Collateral weight (0: not collateral)."""
    supply_cap: Annotated[int, Field(ge=0)] = 0
    """Whole units the ledger accepts of the asset (0: no cap)."""


class TokenPlan(BaseModel):
    """A token a spoke's lockbox accepts: an existing ERC20 (or the native coin) mapped to an asset."""

    model_config = _strict

    symbol: str
    address: Address = NATIVE_TOKEN
    """The token contract; the native-coin marker for the chain's own coin."""
    decimals: Annotated[int, Field(ge=0, le=36)]
    asset: str
    """Symbol of the ledger asset it credits."""
    rate_capacity: Annotated[int, Field(gt=0)]
    """Whole tokens the lockbox may release at once (outflow bucket)."""
    rate_refill_per_s: Annotated[int, Field(gt=0)]
    """Whole tokens the bucket refills per second."""
    inflow_capacity: Annotated[Decimal, Field(gt=0)]
    """Whole units of its ledger asset the hub credits from this spoke at once (the inflow bucket:
    what a compromised quorum of this spoke can mint in a burst; docs/security.md "Blast radius")."""
    inflow_refill_per_s: Annotated[Decimal, Field(gt=0)]
    """Whole units of the asset the inflow bucket refills per second (deposits above wait, in order)."""


class DeployPlan(BaseModel):
    """Everything `xmargin deploy <network>` needs besides the chains and the deployer key."""

    model_config = _strict

    network: str
    config: Path
    """The relayer config whose `chains:` name the hub and spokes (ids, RPC URLs)."""
    governance: GovernancePlan
    validators: Annotated[list[Address], Field(min_length=1)]
    """The validator set of every route (each operator's address)."""
    threshold: Annotated[int, Field(gt=0)]
    assets: Annotated[list[AssetPlan], Field(min_length=1)]
    tokens: dict[str, list[TokenPlan]]
    """Spoke chain name (under the config's `chains:`) -> the tokens its lockbox lists."""
    margin: MarginPlan | None = None
    """The margin engine on the hub (None: the bridge alone)."""

    @model_validator(mode="after")
    def _consistent(self) -> DeployPlan:
        """Distinct validators, a threshold within the set, tokens naming known assets, margin feeds
        covering the collateral assets."""
        if len(set(self.validators)) != len(self.validators):
            raise ValueError("validators must be distinct")
        if self.threshold > len(self.validators):
            raise ValueError(f"threshold {self.threshold} exceeds the {len(self.validators)} validators")
        symbols = {a.symbol for a in self.assets}
        for chain, tokens in self.tokens.items():
            for token in tokens:
                if token.asset not in symbols:
                    raise ValueError(f"token {token.symbol} on {chain} names unknown asset {token.asset!r}")
        if self.margin is not None:
            self.margin.check_assets({a.symbol: (a.asset_id, a.weight_bps) for a in self.assets})
        return self


def load_plan(path: Path) -> DeployPlan:
    """The plan in a YAML file; ConfigError naming the bad fields."""
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except OSError as err:
        raise ConfigError([("<file>", f"cannot read: {err.strerror}")], str(path)) from err
    except yaml.YAMLError as err:
        raise ConfigError([("<file>", f"not valid YAML: {err}")], str(path)) from None
    try:
        return DeployPlan.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_problems(err), str(path)) from err
