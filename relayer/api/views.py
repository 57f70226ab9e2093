"""Read models shared by the HTTP API and the CLI: route state and lag, account balances."""

from __future__ import annotations

import time
from collections.abc import Mapping
from functools import cached_property
from typing import Any, Protocol

from pydantic import BaseModel
from web3.contract import Contract

from relayer.chain import contracts
from relayer.chain.client import ChainClient
from relayer.chain.routes import RouteReader
from relayer.config import ChainConfig, Deployment, Settings, load_deployment
from relayer.errors import ChainCallError, StoreUnavailableError
from relayer.store.redis_store import Store
from relayer.types import RouteId


class SignatureSource(Protocol):
    """What the views need from the signature store (relayer.store's Store satisfies it)."""

    def signed_nonces(self, route: RouteId) -> list[int]: ...

    def signatures_for(self, route: RouteId, nonce: int) -> Mapping[bytes, Mapping[str, bytes]]: ...


class RouteStatus(BaseModel):
    """One route: how far its source went, what validators attested, what the destination applied."""

    route: str
    kind: str
    source_chain: str
    dest_chain: str
    source_nonce: int
    """Messages appended by the source contract (at the latest block)."""
    attested_nonce: int | None
    """Highest checkpoint nonce with a quorum of signatures on one head in the store (None: Redis is down)."""
    processed_nonce: int
    """Messages applied by the destination contract."""
    pending: int
    """source_nonce - processed_nonce."""
    lag_blocks: int
    """Source blocks since the oldest unprocessed message (0 when caught up)."""
    lag_seconds: float
    """Seconds since the oldest unprocessed message's block (0 when caught up)."""
    caught_up: bool


class Backend:
    """Chain clients, contracts, deployment and store for one Settings (created once per process)."""

    def __init__(self, settings: Settings, store: SignatureSource | None = None, quick: bool = False) -> None:
        self.settings = settings
        self._store = store
        self.quick = quick
        """Few retries and short timeouts: for status commands that must fail fast."""

    @cached_property
    def deployment(self) -> Deployment:
        """The deployment named in the settings."""
        return load_deployment(self.settings.deployment_file)

    @cached_property
    def clients(self) -> dict[int, ChainClient]:
        """A client per configured chain id."""
        out = {}
        for chain in self.settings.chains.values():
            config: ChainConfig = chain
            if self.quick:
                config = chain.model_copy(update={"rpc_retries": 0, "rpc_timeout_s": 3.0})
            out[chain.chain_id] = ChainClient(config)
        return out

    @property
    def store(self) -> SignatureSource:
        """The signature store (Redis), created on first use."""
        if self._store is None:
            self._store = Store(self.settings.redis_url)
        return self._store

    def client(self, chain_id: int) -> ChainClient:
        """Client of a chain; KeyError names a chain missing from the config."""
        return self.clients[chain_id]

    def ledger(self) -> Contract:
        """The hub's MarginLedger."""
        return contracts.ledger(self.client(self.deployment.hub.chain_id), self.deployment.hub.ledger)

    def lockbox(self, chain_id: int) -> Contract:
        """A spoke's Lockbox."""
        return contracts.lockbox(self.client(chain_id), self.deployment.spokes[chain_id].lockbox)

    def chain_name(self, chain_id: int) -> str:
        """Configured name of a chain id."""
        return self.client(chain_id).name


def reader(backend: Backend, route: RouteId) -> RouteReader:
    """RouteReader of `route` over the backend's clients."""
    return RouteReader(route, backend.deployment, backend.clients)


def source_nonce_at(route_reader: RouteReader, block: int) -> int:
    """The source contract's route nonce at `block`; 0 before the contract existed."""
    try:
        return route_reader.source_state(block).nonce
    except ChainCallError:
        code = route_reader.source_client.w3.eth.get_code(route_reader.source_address, block_identifier=block)
        if len(code) == 0:
            return 0
        raise


def first_block_above(route_reader: RouteReader, nonce: int, head: int) -> int:
    """Lowest block whose source nonce exceeds `nonce` (bisection on historical state, O(log head) calls)."""
    low, high = 0, head
    while low < high:
        mid = (low + high) // 2
        if source_nonce_at(route_reader, mid) > nonce:
            high = mid
        else:
            low = mid + 1
    return low


def attested_nonce(store: SignatureSource, route: RouteId, threshold: int) -> int:
    """Highest signed nonce where one head has at least `threshold` signatures (0 if none)."""
    for nonce in sorted(store.signed_nonces(route), reverse=True):
        if any(len(sigs) >= threshold for sigs in store.signatures_for(route, nonce).values()):
            return int(nonce)
    return 0


def _attested_or_none(backend: Backend, route: RouteId) -> int | None:
    """Attested nonce, or None when the store cannot be reached (the chains still answer for the rest)."""
    try:
        return attested_nonce(backend.store, route, backend.deployment.threshold)
    except StoreUnavailableError:
        return None


def route_status(backend: Backend, route: RouteId, now: float | None = None) -> RouteStatus:
    """State and lag of one route."""
    route_reader = reader(backend, route)
    source = route_reader.source_client
    head = int(source.block_number())
    source_nonce = route_reader.source_state(head).nonce
    processed = route_reader.dest_state().nonce
    lag_blocks, lag_seconds = 0, 0.0
    if source_nonce > processed:
        block = first_block_above(route_reader, processed, head)
        lag_blocks = head - block
        lag_seconds = max(0.0, (now or time.time()) - float(source.get_block(block)["timestamp"]))
    return RouteStatus(
        route=str(route),
        kind=route.kind.value,
        source_chain=backend.chain_name(route.source_chain_id),
        dest_chain=backend.chain_name(route.dest_chain_id),
        source_nonce=source_nonce,
        attested_nonce=_attested_or_none(backend, route),
        processed_nonce=processed,
        pending=source_nonce - processed,
        lag_blocks=lag_blocks,
        lag_seconds=round(lag_seconds, 1),
        caught_up=source_nonce == processed,
    )


def route_statuses(backend: Backend) -> list[RouteStatus]:
    """Every route of the deployment (deposit and withdrawal per spoke)."""
    return [route_status(backend, route) for route in backend.deployment.routes()]


class AssetBalance(BaseModel):
    """An account's balance of one ledger asset."""

    asset_id: int
    symbol: str
    decimals: int
    balance: int
    """Ledger units (the asset's decimals)."""
    amount: str
    """Human-readable balance."""


class Claim(BaseModel):
    """A deposit of an unlisted (or over-cap) token, kept as a claim valued at 0."""

    chain_id: int
    chain: str
    token: str
    symbol: str
    amount: int
    """Token units."""


class AccountView(BaseModel):
    """An account on the hub ledger."""

    address: str
    balances: list[AssetBalance]
    claims: list[Claim]
    usd_balance: int
    """Signed USD balance (realized PnL, fees, funding), 18 decimals."""


def fmt_amount(amount: int, decimals: int) -> str:
    """Fixed-point text of an integer amount (no float rounding)."""
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 10**decimals)
    text = f"{whole}.{frac:0{decimals}d}".rstrip("0").rstrip(".") if decimals else str(whole)
    return sign + text


def asset_meta(backend: Backend) -> dict[int, tuple[str, int]]:
    """asset id -> (symbol, decimals), read from the ledger."""
    ledger = backend.ledger()
    hub = backend.client(backend.deployment.hub.chain_id)
    out = {}
    for asset_id in hub.call(ledger.functions.listedAssets()):
        symbol, decimals, *_ = hub.call(ledger.functions.assetInfo(asset_id))
        out[int(asset_id)] = (str(symbol), int(decimals))
    return out


def account_view(backend: Backend, address: str) -> AccountView:
    """Balances per asset, claims per (chain, token) of the deployment's tokens, USD balance."""
    ledger = backend.ledger()
    hub = backend.client(backend.deployment.hub.chain_id)
    balances = []
    for asset_id, (symbol, decimals) in sorted(asset_meta(backend).items()):
        bal = int(hub.call(ledger.functions.balanceOf(address, asset_id)))
        balances.append(AssetBalance(asset_id=asset_id, symbol=symbol, decimals=decimals, balance=bal, amount=fmt_amount(bal, decimals)))
    claims = []
    for chain_id, tokens in sorted(backend.deployment.tokens.items()):
        for symbol, token in tokens.items():
            amount = int(hub.call(ledger.functions.claimOf(address, chain_id, token.address)))
            if amount:
                claims.append(
                    Claim(chain_id=chain_id, chain=backend.chain_name(chain_id), token=token.address, symbol=symbol, amount=amount)
                )
    usd = int(hub.call(ledger.functions.usdBalanceOf(address)))
    return AccountView(address=address, balances=balances, claims=claims, usd_balance=usd)


class ChainCollateral(BaseModel):
    """What an account could take out on one spoke, per asset: its balance capped by the spoke's liquidity."""

    chain_id: int
    chain: str
    withdrawable: dict[str, str]
    """asset symbol -> amount (human-readable, ledger units) withdrawable there now."""
    liquidity: dict[str, str]
    """asset symbol -> the spoke's liquidity for ledger balances (human-readable)."""


class CollateralView(BaseModel):
    """An account's collateral by asset and by chain."""

    address: str
    by_asset: dict[str, str]
    by_chain: list[ChainCollateral]


def collateral_view(backend: Backend, address: str) -> CollateralView:
    """Collateral by asset (fungible across chains) and what each spoke's lockbox can pay of it."""
    account = account_view(backend, address)
    ledger = backend.ledger()
    hub = backend.client(backend.deployment.hub.chain_id)
    by_chain = []
    for chain_id in sorted(backend.deployment.spokes):
        withdrawable, liquidity = {}, {}
        for bal in account.balances:
            token = hub.call(ledger.functions.tokenOf(chain_id, bal.asset_id))
            if int(token, 16) == 0:
                continue
            _, scale, _ = hub.call(ledger.functions.tokenInfo(chain_id, token))
            liq_ledger = int(hub.call(ledger.functions.liquidity(chain_id, bal.asset_id))) * int(scale)
            liquidity[bal.symbol] = fmt_amount(liq_ledger, bal.decimals)
            withdrawable[bal.symbol] = fmt_amount(min(bal.balance, liq_ledger), bal.decimals)
        by_chain.append(
            ChainCollateral(chain_id=chain_id, chain=backend.chain_name(chain_id), withdrawable=withdrawable, liquidity=liquidity)
        )
    return CollateralView(address=account.address, by_asset={b.symbol: b.amount for b in account.balances}, by_chain=by_chain)


def health(backend: Backend) -> dict[str, Any]:
    """Reachability of every chain (latest block) and of Redis."""
    chains: dict[str, Any] = {}
    ok = True
    for chain_id, client in backend.clients.items():
        try:
            chains[client.name] = {"chain_id": chain_id, "block": int(client.block_number()), "ok": True}
        except Exception as err:  # noqa: BLE001 - reported, not raised: this is the health probe
            chains[client.name] = {"chain_id": chain_id, "ok": False, "error": type(err).__name__}
            ok = False
    return {"ok": ok, "chains": chains}
