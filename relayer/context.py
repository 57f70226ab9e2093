"""The composition root: chain clients, store, deployment, contracts, transaction senders and the
relayer's roles, built from one Settings for every entry point (CLI, API, Celery workers, devnet,
benchmarks). Nothing else constructs them.

The deployment is re-read when its file changes (a redeployed devnet); the roles built on it are
then rebuilt. One Context per process: a forked worker child builds its own.
"""

from __future__ import annotations

import threading
from functools import cached_property
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3.contract import Contract
from web3.contract.contract import ContractFunction

from relayer.chain import contracts
from relayer.chain.abi import abi_of
from relayer.chain.client import ChainClient
from relayer.chain.margin import MarginContracts
from relayer.chain.routes import RouteReader
from relayer.chain.sender import FeePolicy, TxRequest, TxSender
from relayer.config import ChainConfig, Settings, load_settings
from relayer.deployment import Deployment, load_deployment
from relayer.errors import ConfigError
from relayer.keeper.deleverager import Deleverager
from relayer.keeper.feeds import FeedSyncer
from relayer.keeper.inflight import FlightCaps, TxPipeline
from relayer.keeper.liquidator import LIQUIDATION_GAS, Keeper, Send
from relayer.keeper.oracle_service import OracleService, PriceQueue
from relayer.keeper.settler import OrderSettler
from relayer.keeper.tracker import AccountTracker
from relayer.store.lease import lease
from relayer.store.nonces import shared_nonces
from relayer.store.redis_store import KickHook, Store
from relayer.submitter.service import Submitter
from relayer.types import ChainId, RouteId
from relayer.validator.publish import HttpPublisher, Publisher, RedisPublisher
from relayer.validator.service import Validator
from relayer.validator.signer_db import SignerDb

USD = 10**18
QUICK_RPC_TIMEOUT_S = 3.0
USER_FEE_POLICY = FeePolicy(gas_margin_pct=60)
"""User transactions: 60% over the estimate, since the block that includes a trade may take another
path than its estimate (it accrues funding because time moved; a fresh oracle round in between
turns zero PnL into a first write of the USD balance). Measured on the devnet: a closePosition
estimated at 105,798 gas needed 156,711 in the next block (+48%) and ran out of gas at +30%."""
ORACLE_FEE_POLICY = FeePolicy(stuck_after_s=10.0)


class Context:
    """Everything built from one Settings, created on first use and shared by the process."""

    def __init__(self, settings: Settings, store: Store | None = None, quick: bool = False) -> None:
        self.settings = settings
        self.quick = quick
        """Few retries and short timeouts: for status commands that must fail fast."""
        self._store = store
        self._lock = threading.RLock()
        self._deployment: tuple[int, Deployment] | None = None
        self._validator: Validator | None = None
        self._submitter: Submitter | None = None
        self._keeper: Keeper | None = None
        self._db: SignerDb | None = None
        self.on_quorum: KickHook | None = None
        """What a validator writing into this Redis calls when its signature completes a quorum
        (the worker layer sets it to a submitter kick; None: the beat's tick delivers it)."""

    @classmethod
    def from_file(cls, path: Path | None = None, quick: bool = False) -> Context:
        """A Context for the settings in `path` (or $XMARGIN_CONFIG)."""
        return cls(load_settings(path), quick=quick)

    # infrastructure ----------------------------------------------------------------------

    @property
    def deployment(self) -> Deployment:
        """The deployment, re-read when its file changes (the roles are then rebuilt)."""
        path = Path(self.settings.deployment_file)
        try:
            mtime = path.stat().st_mtime_ns
        except OSError as err:
            raise ConfigError([("deployment_file", f"cannot read {path}: {err.strerror}")]) from err
        with self._lock:
            if self._deployment is None or self._deployment[0] != mtime:
                self._deployment = (mtime, load_deployment(path))
                self._validator = self._submitter = self._keeper = None
            return self._deployment[1]

    @cached_property
    def clients(self) -> dict[int, ChainClient]:
        """A client per configured chain id."""
        out: dict[int, ChainClient] = {}
        for chain in self.settings.chains.values():
            config: ChainConfig = chain
            if self.quick:
                config = chain.model_copy(update={"rpc_retries": 0, "rpc_timeout_s": QUICK_RPC_TIMEOUT_S})
            out[chain.chain_id] = ChainClient(config)
        for chain in self.settings.chains.values():
            if chain.finality == "l1" and chain.l1_chain is not None:
                out[chain.chain_id].l1 = out[self.settings.chains[chain.l1_chain].chain_id]
        return out

    def client(self, chain_id: int) -> ChainClient:
        """Client of a chain; ConfigError naming a chain missing from the config."""
        try:
            return self.clients[chain_id]
        except KeyError:
            raise ConfigError([("chains", f"no chain with chain_id {chain_id}")]) from None

    @property
    def hub(self) -> ChainClient:
        """Client of the deployment's hub chain."""
        return self.client(self.deployment.hub.chain_id)

    def chain_name(self, chain_id: int) -> str:
        """Configured name of a chain id."""
        return self.client(chain_id).name

    def chain_id_of(self, chain: str) -> ChainId | None:
        """Chain id from a configured chain name or a numeric id (None if unknown)."""
        for config in self.settings.chains.values():
            if chain in (config.name, str(config.chain_id)):
                return ChainId(config.chain_id)
        return None

    @property
    def store(self) -> Store:
        """The Redis store, created on first use."""
        with self._lock:
            if self._store is None:
                self._store = Store(self.settings.redis_url)
            return self._store

    # contracts ---------------------------------------------------------------------------

    def ledger(self) -> Contract:
        """The hub's MarginLedger."""
        return contracts.ledger(self.hub, self.deployment.hub.ledger)

    def lockbox(self, chain_id: int) -> Contract:
        """A spoke's Lockbox."""
        return contracts.lockbox(self.client(chain_id), self.deployment.spokes[ChainId(chain_id)].lockbox)

    def erc20(self, chain_id: int, address: str) -> Contract:
        """A token on a chain."""
        return contracts.erc20(self.client(chain_id), address)

    def margin(self) -> MarginContracts:
        """The hub's margin contracts (ConfigError if the deployment has none)."""
        return MarginContracts(self.hub, self.deployment)

    def route_reader(self, route: RouteId) -> RouteReader:
        """A reader of `route` over this context's clients."""
        return RouteReader(route, self.deployment, self.clients)

    # sending -----------------------------------------------------------------------------

    def sender(self, key: str | LocalAccount, chain_id: int, policy: FeePolicy | None = None) -> TxSender:
        """A TxSender of `key` on `chain_id`, nonces handed out under the Redis lock every process shares."""
        account: LocalAccount = key if isinstance(key, LocalAccount) else Account.from_key(key)
        client = self.client(chain_id)
        address = account.address
        nonces = shared_nonces(
            self.store, ChainId(chain_id), address, lambda: client.w3.eth.get_transaction_count(address, "pending")
        )
        return TxSender(client.w3, account, ChainId(chain_id), nonces, policy or USER_FEE_POLICY, chain=client.name)

    # roles (workers) ---------------------------------------------------------------------

    def validator(self) -> Validator:
        """This process's validator (ConfigError if its config has no `validator:` section)."""
        with self._lock:
            deployment = self.deployment
            if self._validator is None:
                config = self.settings.validator
                if config is None:
                    raise ConfigError([("validator", "this worker has no validator identity")])
                if self._db is None:
                    self._db = SignerDb(config.db_path)
                clients = {ChainId(k): c for k, c in self.clients.items()}
                publisher: Publisher = (
                    HttpPublisher(config.publish_to, config.key) if config.publish_to
                    else RedisPublisher(self.store, self.on_quorum)
                )
                self._validator = Validator(
                    config.name, config.key, self._db, publisher, deployment, clients,
                    max_blocks_per_tick=config.max_blocks_per_tick, fetch_threads=config.fetch_threads,
                )
            return self._validator

    def submitter(self) -> Submitter:
        """This process's submitter (ConfigError if its config has no `submitter:` section)."""
        with self._lock:
            deployment = self.deployment
            if self._submitter is None:
                if self.settings.submitter is None:
                    raise ConfigError([("submitter", "this worker has no submitter account")])
                self._submitter = Submitter(self.settings.submitter, self.store, deployment, self.clients,
                                            on_quorum=self.on_quorum)
            return self._submitter

    def keeper(self) -> Keeper:
        """This process's keeper (ConfigError without a `keeper:` section or a margin deployment).
        It keeps its account tracker between rounds; a new process rebuilds it from the chain."""
        with self._lock:
            deployment = self.deployment  # re-read first: a changed deployment drops the old keeper
            if self._keeper is None:
                config = self.settings.keeper
                if config is None:
                    raise ConfigError([("keeper", "this worker has no keeper account")])
                margin = self.margin()
                policy = FeePolicy(stuck_after_s=config.stuck_after_s, bump_pct=config.fee_bump_pct)
                sender = self.sender(config.key.get_secret_value(), deployment.hub.chain_id, policy)
                tracker = AccountTracker(
                    self.hub.w3, abi_of("PerpMarket"), [m.address for m in margin.config.markets.values()],
                    from_block=margin.config.start_block,
                )
                markets = list(margin.markets.values())
                order_tracker = AccountTracker(
                    self.hub.w3, abi_of("PerpMarket"), [m.address for m in markets],
                    from_block=margin.config.start_block, event_name="OrderCommitted",
                )
                settler = OrderSettler(self.hub.w3, sender.address, order_tracker, markets, margin.oracle,
                                       abi_of("MockAggregatorV3"), signed_send(sender))
                deleverager = None
                if margin.config.vault is not None and margin.config.deleverager is not None:
                    deleverager = Deleverager(self.hub.w3, sender.address, tracker, margin.vault, margin.deleverager,
                                              margin.engine, margin.markets, signed_send(sender))
                self._keeper = Keeper(
                    self.hub.w3, sender.address, tracker, margin.lens, margin.liquidation,
                    send=signed_send(sender), max_repay=config.max_repay_usd * USD, settler=settler,
                    deleverager=deleverager,
                    feeds=FeedSyncer(self.hub.w3, sender.address, margin.engine, margin.oracle,
                                     abi_of("MockAggregatorV3"), signed_send(sender)),
                    claim=lambda account: lease(self.store, f"liquidation:{account}", LIQUIDATION_LEASE_TTL_S),
                    pipeline=TxPipeline(sender),
                    caps=FlightCaps(max_in_flight=config.max_in_flight, block_gas_share=config.block_gas_share,
                                    prepare_ahead=config.prepare_ahead),
                )
            return self._keeper

    def oracle_service(self) -> OracleService:
        """The devnet's oracle pusher (ConfigError without an `oracle:` section)."""
        config = self.settings.oracle
        if config is None:
            raise ConfigError([("oracle", "this config has no `oracle:` section (the pusher's key)")])
        sender = self.sender(config.key.get_secret_value(), self.deployment.hub.chain_id, ORACLE_FEE_POLICY)
        return OracleService(self.margin(), sender, PriceQueue(self.store), config.refresh_s)

    def price_queue(self) -> PriceQueue:
        """Price paths waiting for the oracle pusher."""
        return PriceQueue(self.store)


LIQUIDATION_LEASE_TTL_S = 30.0
"""A keeper's lease on one account's liquidation (renewed while it simulates, sends and waits)."""


def signed_send(sender: TxSender, gas: int = LIQUIDATION_GAS) -> Send:
    """A Keeper `send` that signs each call locally and waits for its receipt."""

    def send(call: ContractFunction, gas_limit: int | None = None) -> tuple[str, int]:
        sent = sender.send(TxRequest.call(call, gas=gas_limit or gas))
        return sent.tx_hash, sent.status

    return send
