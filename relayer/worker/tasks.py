"""Celery tasks: one validator tick or one submitter tick of one route, by route id; one keeper
round on the hub, by chain id.

Tasks take ids, never objects, and re-read every state they need from the chains (and the
validator's own db): running one twice, or after a crash, does nothing twice. Transient failures
(an RPC or Redis outage, a block that changed under a scan) are retried with capped backoff.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from relayer.chain.client import ChainClient
from relayer.config import Deployment, Settings, load_deployment
from relayer.errors import ConfigError, LockUnavailableError, RpcUnavailableError, StoreUnavailableError
from relayer.keeper.liquidator import Keeper
from relayer.keeper.service import build_keeper
from relayer.store.redis_store import Store
from relayer.submitter.lease import lease
from relayer.submitter.service import Submitter
from relayer.types import RouteId
from relayer.errors import SourceReorgedError
from relayer.validator.service import Validator
from relayer.validator.signer_db import SignerDb
from relayer.worker.app import KEEP_TASK, SUBMIT_TASK, VALIDATE_TASK, app, current_settings

log = logging.getLogger(__name__)

TRANSIENT = (RpcUnavailableError, StoreUnavailableError, SourceReorgedError)
"""Errors worth retrying: the node or Redis was away, or the chain moved under a scan."""
RETRY = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": TRANSIENT,
    "retry_backoff": True,
    "retry_backoff_max": 30,
    "retry_jitter": True,
    "max_retries": 5,
}
VALIDATE_LEASE_TTL_S = 15.0
"""Lease of a (validator, route) tick: renewed while it runs, freed this fast if its worker dies."""
KEEP_LEASE_TTL_S = 15.0
"""Lease of one keeper's round: a worker's threads never run two rounds of the same key at once."""


class Runtime:
    """Per-process wiring built from Settings: clients, store, deployment and the role services.
    Rebuilt when the deployment file changes (a redeployed devnet)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = Store(settings.redis_url)
        self.clients = {c.chain_id: ChainClient(c) for c in settings.chains.values()}
        self._lock = threading.Lock()
        self._deployment: tuple[float, Deployment] | None = None
        self._validator: Validator | None = None
        self._submitter: Submitter | None = None
        self._keeper: Keeper | None = None
        self._db: SignerDb | None = None

    def deployment(self) -> Deployment:
        """The deployment, re-read when its file changes; services are rebuilt with it."""
        path = Path(self.settings.deployment_file)
        try:
            mtime = path.stat().st_mtime
        except OSError as err:
            raise ConfigError([("deployment_file", f"cannot read {path}: {err.strerror}")]) from err
        if self._deployment is None or self._deployment[0] != mtime:
            self._deployment = (mtime, load_deployment(path))
            self._validator = self._submitter = self._keeper = None
        return self._deployment[1]

    def validator(self) -> Validator:
        """This worker's validator (ConfigError if its config has no `validator:` section)."""
        with self._lock:
            deployment = self.deployment()
            if self._validator is None:
                config = self.settings.validator
                if config is None:
                    raise ConfigError([("validator", "this worker has no validator identity")])
                if self._db is None:
                    self._db = SignerDb(config.db_path)
                self._validator = Validator(
                    config.name, config.key, self._db, self.store, deployment, self.clients
                )
            return self._validator

    def submitter(self) -> Submitter:
        """This worker's submitter (ConfigError if its config has no `submitter:` section)."""
        with self._lock:
            deployment = self.deployment()
            if self._submitter is None:
                if self.settings.submitter is None:
                    raise ConfigError([("submitter", "this worker has no submitter account")])
                self._submitter = Submitter(self.settings.submitter, self.store, deployment, self.clients)
            return self._submitter

    def keeper(self) -> Keeper:
        """This worker's keeper (ConfigError without a `keeper:` section or a margin deployment).
        It keeps its account tracker between rounds; a new worker rebuilds it from the chain."""
        with self._lock:
            deployment = self.deployment()
            if self._keeper is None:
                if self.settings.keeper is None:
                    raise ConfigError([("keeper", "this worker has no keeper account")])
                hub = self.clients[deployment.hub.chain_id]
                self._keeper = build_keeper(self.settings.keeper, deployment, hub, self.store)
            return self._keeper


_runtime_lock = threading.Lock()
_runtime: Runtime | None = None


def runtime() -> Runtime:
    """This process's Runtime (built on first use, so a forked pool child builds its own)."""
    global _runtime
    with _runtime_lock:
        settings = current_settings()
        if _runtime is None or _runtime.settings is not settings:
            _runtime = Runtime(settings)
        return _runtime


@app.task(name=VALIDATE_TASK, **RETRY)
def validate_route(route_id: str) -> dict[str, Any]:
    """One tick of this worker's validator on `route_id`; skipped if a tick of it is still running."""
    route = RouteId.parse(route_id)
    rt = runtime()
    validator = rt.validator()
    try:
        with lease(rt.store, f"validate:{validator.address}:{route}", ttl_s=VALIDATE_LEASE_TTL_S):
            return validator.tick(route).model_dump(mode="json")
    except LockUnavailableError:
        return {"route": route_id, "validator": validator.name, "skipped": "busy"}


@app.task(name=SUBMIT_TASK, **RETRY)
def submit_route(route_id: str) -> dict[str, Any]:
    """One submitter tick on `route_id` (the submitter holds the route's lock itself)."""
    route = RouteId.parse(route_id)
    return runtime().submitter().tick(route).model_dump(mode="json")


@app.task(name=KEEP_TASK, **RETRY)
def keep_accounts(hub_chain_id: int) -> dict[str, Any]:
    """One keeper round on the hub: follow accounts, one lens call, liquidate every unhealthy one.
    Competing keepers are expected (benign reverts are skipped); a round of this keeper still
    running makes this one a no-op. Non-benign failures are logged and reported in the result."""
    rt = runtime()
    deployment = rt.deployment()
    if hub_chain_id != deployment.hub.chain_id:
        raise ConfigError([("hub", f"keep_accounts for chain {hub_chain_id}, but the hub is {deployment.hub.chain_id}")])
    keeper = rt.keeper()
    try:
        with lease(rt.store, f"keep:{hub_chain_id}:{keeper.sender}", ttl_s=KEEP_LEASE_TTL_S):
            result = keeper.run_once(strict=False)
    except LockUnavailableError:
        return {"hub": hub_chain_id, "keeper": keeper.sender, "skipped": "busy"}
    if result.sent or result.skipped_benign or result.failed:
        log.info(
            "keeper %s: %d accounts, %d unhealthy, liquidated %s, %d skipped (benign), %d reverted on chain",
            keeper.sender, result.checked, result.unhealthy, result.liquidated, result.skipped_benign, result.reverted,
        )
    for account, reason in result.failed.items():
        log.error("keeper %s: liquidation of %s refused: %s", keeper.sender, account, reason)
    return {"hub": hub_chain_id, "keeper": keeper.sender, **result.model_dump(mode="json")}
