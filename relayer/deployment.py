"""The deployment record: where every contract of a deployment lives, written by `devnet up` or a
deploy script and read by every role (routes are derived from it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, Field, ValidationError, ValidationInfo, field_validator

from relayer._pydantic import problems as _problems, strict as _strict
from relayer.errors import ConfigError
from relayer.types import Address, ChainId, ChainIdField, RouteId, RouteKind


class HubDeployment(BaseModel):
    """The hub chain and its MarginLedger."""

    model_config = _strict

    chain_id: ChainIdField
    ledger: Address
    deploy_block: Annotated[int, Field(ge=0)] = 0
    """Block the ledger was deployed in: where scans of the withdrawal routes start (0: unknown)."""


class SpokeDeployment(BaseModel):
    """One spoke's Lockbox."""

    model_config = _strict

    lockbox: Address
    deploy_block: Annotated[int, Field(ge=0)] = 0
    """Block the lockbox was deployed in: where scans of its deposit route start (0: unknown)."""


class TimelockDeployment(BaseModel):
    """The TimelockController holding governance of one chain's contracts."""

    model_config = _strict

    address: Address
    min_delay_s: Annotated[int, Field(ge=0)]
    deploy_block: Annotated[int, Field(ge=0)]


class GovernanceDeployment(BaseModel):
    """Who governs a real-network deployment (docs/deploy.md): a timelock per chain holds
    GOVERNOR_ROLE and DEFAULT_ADMIN_ROLE; the guardian holds only GUARDIAN_ROLE; the deployer nothing."""

    model_config = _strict

    timelocks: dict[ChainIdField, TimelockDeployment]
    """Chain id -> its timelock."""
    proposers: list[Address]
    """May schedule (and cancel) timelock operations."""
    executors: list[Address]
    """May execute ready operations (the zero address: anyone)."""
    guardian: Address
    deployer: Address
    """The account that deployed and then renounced every role."""


class TokenInfo(BaseModel):
    """A token on one chain."""

    model_config = _strict

    address: Address
    decimals: Annotated[int, Field(ge=0, le=77)]


class FeedDeployment(BaseModel):
    """One oracle feed: its id (a collateral asset's feed id is its ledger asset id) and source."""

    model_config = _strict

    feed_id: Annotated[int, Field(ge=0, lt=2**32)]
    aggregator: Address | None = None
    """Chainlink-compatible aggregator (None for a feed of signed reports)."""
    decimals: Annotated[int, Field(ge=0, le=36)] = 8
    """Decimals of the aggregator's answers."""


class MarketDeployment(BaseModel):
    """One perpetual market."""

    model_config = _strict

    address: Address
    feed: str
    """Symbol of the feed (and asset) the market is priced by, e.g. ETH."""


class MarginDeployment(BaseModel):
    """The margin engine on the hub (docs/margin.md)."""

    model_config = _strict

    oracle: Address
    risk_engine: Address
    liquidation: Address
    lens: Address
    pool: Address
    """The markets' counterparty account: the LP vault's address when `vault` is set."""
    insurance_fund: Address
    feeds: dict[str, FeedDeployment]
    """Symbol -> feed."""
    markets: dict[str, MarketDeployment]
    """Market name (ETH-USD) -> market."""
    start_block: Annotated[int, Field(ge=0)] = 0
    """Hub block before the margin contracts were deployed: where event scans start."""
    vault: Address | None = None
    """LPVault, the markets' counterparty owned by share holders (None: a passive pool account)."""
    deleverager: Address | None = None
    """AutoDeleverager of the vault's markets (the keeper's ADL loop)."""
    settlement: Address | None = None
    """Settlement (USD PnL in USDC against the vault); also the ledger's `settlement()` (older records: None)."""

    @field_validator("markets")
    @classmethod
    def _markets_priced_by_known_feeds(
        cls, markets: dict[str, MarketDeployment], info: ValidationInfo
    ) -> dict[str, MarketDeployment]:
        """Every market's feed is one of the deployment's feeds."""
        feeds = info.data.get("feeds")
        if feeds is not None:
            for name, market in markets.items():
                if market.feed not in feeds:
                    raise ValueError(f"market {name} names unknown feed {market.feed!r}")
        return markets


class Deployment(BaseModel):
    """Addresses of one deployment (hub ledger, spoke lockboxes, tokens, validator set, margin engine)."""

    model_config = _strict

    hub: HubDeployment
    spokes: dict[ChainIdField, SpokeDeployment]
    """Spoke chain id -> lockbox."""
    tokens: dict[ChainIdField, dict[str, TokenInfo]] = Field(default_factory=dict)
    """Chain id -> symbol -> token."""
    assets: dict[str, Annotated[int, Field(gt=0, lt=2**32)]] = Field(default_factory=dict)
    """Symbol -> ledger asset id."""
    validators: list[Address]
    threshold: Annotated[int, Field(gt=0)]
    margin: MarginDeployment | None = None
    """The margin engine, when deployed (older deployment files have none)."""
    network: str | None = None
    """Name of the network (`xmargin deploy <network>`); None for the devnet."""
    governance: GovernanceDeployment | None = None
    """Timelocks and guardian of a real-network deployment (None on the devnet)."""

    @field_validator("spokes")
    @classmethod
    def _spokes_not_hub(
        cls, spokes: dict[ChainId, SpokeDeployment], info: ValidationInfo
    ) -> dict[ChainId, SpokeDeployment]:
        """A route always crosses chains, so the hub is not its own spoke."""
        hub = info.data.get("hub")
        if hub is not None and hub.chain_id in spokes:
            raise ValueError(f"chain {hub.chain_id} is the hub; it cannot also be a spoke")
        return spokes

    @field_validator("validators")
    @classmethod
    def _distinct_validators(cls, validators: list[str]) -> list[str]:
        """A non-empty set without duplicates (the verifier rejects them too)."""
        if not validators or len(set(validators)) != len(validators):
            raise ValueError("must be a non-empty list of distinct addresses")
        return validators

    @field_validator("threshold")
    @classmethod
    def _threshold_within_set(cls, threshold: int, info: ValidationInfo) -> int:
        """1 <= threshold <= number of validators."""
        validators = info.data.get("validators")
        if validators is not None and threshold > len(validators):
            raise ValueError(f"threshold {threshold} exceeds the {len(validators)} validators")
        return threshold

    def routes(self) -> list[RouteId]:
        """Every route: one deposit route and one withdrawal route per spoke, by spoke chain id."""
        hub = self.hub.chain_id
        out: list[RouteId] = []
        for spoke in sorted(self.spokes):
            out.append(RouteId(kind=RouteKind.DEPOSIT, source_chain_id=spoke, dest_chain_id=hub))
            out.append(RouteId(kind=RouteKind.WITHDRAWAL, source_chain_id=hub, dest_chain_id=spoke))
        return out

    def _lockbox(self, route: RouteId) -> str:
        """The lockbox at the spoke end of `route`; ConfigError if that spoke is unknown."""
        if route.spoke_chain_id not in self.spokes:
            raise ConfigError([("spokes", f"no spoke with chain id {route.spoke_chain_id} (route {route})")])
        if self.hub.chain_id not in (route.source_chain_id, route.dest_chain_id):
            raise ConfigError([("hub", f"route {route} does not touch hub {self.hub.chain_id}")])
        return self.spokes[route.spoke_chain_id].lockbox

    def source_contract(self, route: RouteId) -> str:
        """Contract that appends the route's messages (lockbox for deposits, ledger for withdrawals)."""
        lockbox = self._lockbox(route)
        return lockbox if route.kind is RouteKind.DEPOSIT else self.hub.ledger

    def source_deploy_block(self, route: RouteId) -> int:
        """Block the route's source contract was deployed in (0 when the record does not say)."""
        self._lockbox(route)
        if route.kind is RouteKind.DEPOSIT:
            return self.spokes[route.spoke_chain_id].deploy_block
        return self.hub.deploy_block

    def dest_contract(self, route: RouteId) -> str:
        """Contract that verifies and processes the route's batches (the EIP-712 verifying contract)."""
        lockbox = self._lockbox(route)
        return self.hub.ledger if route.kind is RouteKind.DEPOSIT else lockbox


def load_deployment(path: Path) -> Deployment:
    """Deployment from its JSON file; ConfigError naming the bad fields."""
    try:
        raw = json.loads(Path(path).read_text())
    except OSError as err:
        raise ConfigError([("<file>", f"cannot read: {err.strerror}")], str(path)) from err
    except json.JSONDecodeError as err:
        raise ConfigError([("<file>", f"not valid JSON: {err}")], str(path)) from err
    try:
        return Deployment.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_problems(err), str(path)) from err
