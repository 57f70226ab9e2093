"""Bindings of the margin engine's hub contracts (oracle, aggregators, risk engine, markets,
liquidation module, lens, LP vault and auto-deleverager) from a deployment's `margin` section."""

from __future__ import annotations

from functools import cached_property

from web3.contract import Contract

from relayer.chain.client import ChainClient
from relayer.chain.contracts import contract
from relayer.deployment import Deployment, MarginDeployment
from relayer.errors import ConfigError


def margin_deployment(deployment: Deployment) -> MarginDeployment:
    """The deployment's margin section; ConfigError if the margin engine is not deployed."""
    if deployment.margin is None:
        raise ConfigError([("margin", "this deployment has no margin engine (redeploy the devnet)")])
    return deployment.margin


class MarginContracts:
    """The hub's margin contracts bound to one chain client."""

    def __init__(self, client: ChainClient, deployment: Deployment) -> None:
        self.client = client
        self.config = margin_deployment(deployment)
        self.ledger = contract(client, "MarginLedger", deployment.hub.ledger)

    @cached_property
    def oracle(self) -> Contract:
        """PriceOracle."""
        return contract(self.client, "PriceOracle", self.config.oracle)

    @cached_property
    def engine(self) -> Contract:
        """RiskEngine."""
        return contract(self.client, "RiskEngine", self.config.risk_engine)

    @cached_property
    def liquidation(self) -> Contract:
        """LiquidationModule."""
        return contract(self.client, "LiquidationModule", self.config.liquidation)

    @cached_property
    def lens(self) -> Contract:
        """MarginLens (batch health view)."""
        return contract(self.client, "MarginLens", self.config.lens)

    @cached_property
    def vault(self) -> Contract:
        """LPVault (ConfigError if the deployment's counterparty is a passive pool account)."""
        if self.config.vault is None:
            raise ConfigError([("margin.vault", "this deployment has no LP vault (redeploy the devnet)")])
        return contract(self.client, "LPVault", self.config.vault)

    @cached_property
    def deleverager(self) -> Contract:
        """AutoDeleverager (ConfigError if the deployment has none)."""
        if self.config.deleverager is None:
            raise ConfigError([("margin.deleverager", "this deployment has no auto-deleverager (redeploy the devnet)")])
        return contract(self.client, "AutoDeleverager", self.config.deleverager)

    @cached_property
    def markets(self) -> dict[str, Contract]:
        """Market name -> PerpMarket."""
        return {name: contract(self.client, "PerpMarket", m.address) for name, m in self.config.markets.items()}

    @cached_property
    def aggregators(self) -> dict[str, Contract]:
        """Feed symbol -> aggregator (feeds priced by an aggregator only)."""
        return {
            symbol: contract(self.client, "MockAggregatorV3", feed.aggregator)
            for symbol, feed in self.config.feeds.items()
            if feed.aggregator is not None
        }

    def market(self, name: str) -> Contract:
        """The market called `name` (case-insensitive); ConfigError listing the known ones."""
        for known, market in self.markets.items():
            if known.lower() == name.lower():
                return market
        raise ConfigError([("market", f"no market {name!r}; known: {', '.join(self.markets)}")])

    def market_name(self, name: str) -> str:
        """Canonical spelling of a market name."""
        for known in self.markets:
            if known.lower() == name.lower():
                return known
        raise ConfigError([("market", f"no market {name!r}; known: {', '.join(self.markets)}")])

    def feed_symbol(self, feed_id: int) -> str:
        """Symbol of a feed id (the id itself as text if unknown)."""
        for symbol, feed in self.config.feeds.items():
            if feed.feed_id == feed_id:
                return symbol
        return str(feed_id)
