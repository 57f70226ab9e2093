"""Bindings of the margin engine's hub contracts (oracle, aggregators, risk engine, markets,
liquidation module, lens) from a deployment's `margin` section."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from eth_abi import decode
from eth_utils import function_signature_to_4byte_selector
from web3.contract import Contract

from relayer.chain.client import ChainClient
from relayer.chain.contracts import contract, load_artifact
from relayer.config import Deployment, MarginDeployment
from relayer.errors import ConfigError

ERROR_SOURCES = ("PerpMarket", "PriceOracle", "RiskEngine", "LiquidationModule", "MarginLedger")
"""Contracts whose custom errors a margin call can bubble up (a market call reverts inside the oracle)."""


def margin_deployment(deployment: Deployment) -> MarginDeployment:
    """The deployment's margin section; ConfigError if the margin engine is not deployed."""
    if deployment.margin is None:
        raise ConfigError([("margin", "this deployment has no margin engine (redeploy the devnet)")])
    return deployment.margin


class DecodedError:
    """A custom error: its name and arguments by name."""

    def __init__(self, name: str, args: dict[str, Any]) -> None:
        self.name = name
        self.args = args

    def __str__(self) -> str:
        return f"{self.name}({', '.join(f'{k}={v}' for k, v in self.args.items())})"


def decode_custom_error(data: str | bytes, abis: list[list[dict[str, Any]]]) -> DecodedError | None:
    """The custom error in revert `data`, looked up in `abis`; None if no ABI declares it."""
    raw = bytes.fromhex(data[2:] if data.startswith("0x") else data) if isinstance(data, str) else bytes(data)
    for abi in abis:
        for item in abi:
            if item.get("type") != "error":
                continue
            types = [i["type"] for i in item["inputs"]]
            if function_signature_to_4byte_selector(f"{item['name']}({','.join(types)})") == raw[:4]:
                values = decode(types, raw[4:])
                names = [i["name"] or f"arg{n}" for n, i in enumerate(item["inputs"])]
                return DecodedError(item["name"], dict(zip(names, values, strict=True)))
    return None


def margin_error_abis() -> list[list[dict[str, Any]]]:
    """ABIs of every contract a margin call can revert in."""
    return [load_artifact(name).abi for name in ERROR_SOURCES]


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
