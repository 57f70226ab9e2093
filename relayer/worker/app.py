"""The Celery app: queues per role and chain, acks_late, the beat schedule.

Queues: `validator.<validator name>` (each validator's own worker: its key and signing-protection
db live there), `submitter.<destination chain id>` and `keeper.<hub chain id>` (every keeper of
the hub consumes it; each runs `Keeper.run_once` with its own key). Run it as `celery -A relayer.worker.app
worker -Q ...` / `celery -A relayer.worker.app beat`, or through `run_worker` / `run_beat`;
settings come from $XMARGIN_CONFIG (YAML) plus XMARGIN_* environment overrides, read when the
app's configuration is first needed (importing this module loads nothing).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from celery import Celery
from celery.beat import PersistentScheduler
from celery.signals import after_setup_logger

from relayer.config import Settings, load_settings
from relayer.deployment import Deployment, load_deployment
from relayer.errors import ConfigError
from relayer.logs import install
from relayer.types import ChainId, RouteId
from relayer.worker import broker_fix

log = logging.getLogger(__name__)

VALIDATE_TASK = "xmargin.validate_route"
SUBMIT_TASK = "xmargin.submit_route"
KEEP_TASK = "xmargin.keep_accounts"
VALIDATOR_QUEUE_PREFIX = "validator."
SUBMITTER_QUEUE_PREFIX = "submitter."
KEEPER_QUEUE_PREFIX = "keeper."
VALIDATOR_NAMES_ENV = "XMARGIN_VALIDATOR_NAMES"
"""Comma-separated validator names beat always schedules (besides the ones it discovers)."""
DISCOVERY_INTERVAL_S = 10.0
"""How often beat asks the live workers which queues they consume."""
DISCOVERY_TIMEOUT_S = 1.0
RESULT_EXPIRES_S = 300
VISIBILITY_TIMEOUT_S = 600
"""An unacknowledged task (its worker died mid-task) is handed out again after this long; longer
than any tick (a submitter tick waits for its receipt and replacements)."""


def validator_queue(name: str) -> str:
    """Queue of one validator's worker."""
    return f"{VALIDATOR_QUEUE_PREFIX}{name}"


def submitter_queue(dest_chain_id: int) -> str:
    """Queue of the submitters delivering to one destination chain."""
    return f"{SUBMITTER_QUEUE_PREFIX}{dest_chain_id}"


def keeper_queue(hub_chain_id: int) -> str:
    """Queue of the keepers of one hub."""
    return f"{KEEPER_QUEUE_PREFIX}{hub_chain_id}"


def _chain_ids(queues: Iterable[str], prefix: str) -> set[int]:
    """Chain ids of the queues named `<prefix><chain id>`."""
    return {int(q[len(prefix):]) for q in queues if q.startswith(prefix) and q[len(prefix):].isdigit()}


# ---------------------------------------------------------------------------------- schedule


def tick_interval(settings: Settings, route: RouteId) -> float:
    """Seconds between ticks of a route: the source chain's poll interval (1 s if not configured)."""
    try:
        return settings.chain(route.source_chain_id).poll_interval
    except ConfigError:
        return 1.0


def build_beat_schedule(
    settings: Settings,
    deployment: Deployment,
    validator_names: Iterable[str],
    submitter_chains: Iterable[int] | None = None,
    interval_s: float | None = None,
    keeper_chains: Iterable[int] = (),
) -> dict[str, dict[str, Any]]:
    """Beat entries: validate_route per (validator, route) to `validator.<name>`, submit_route per
    route to `submitter.<dest chain>` (every destination unless `submitter_chains` narrows it), and
    keep_accounts to `keeper.<hub>` when the hub is in `keeper_chains` and the margin engine is
    deployed. Each message expires after two intervals, so a slow or absent worker never lets
    ticks pile up."""
    names = sorted(set(validator_names))
    chains = None if submitter_chains is None else set(submitter_chains)
    schedule: dict[str, dict[str, Any]] = {}
    for route in deployment.routes():
        every = interval_s if interval_s is not None else tick_interval(settings, route)
        options = {"expires": 2 * every, "ignore_result": True}
        for name in names:
            schedule[f"validate {route} by {name}"] = {
                "task": VALIDATE_TASK,
                "schedule": every,
                "args": (str(route),),
                "options": {**options, "queue": validator_queue(name)},
            }
        if chains is None or route.dest_chain_id in chains:
            schedule[f"submit {route}"] = {
                "task": SUBMIT_TASK,
                "schedule": every,
                "args": (str(route),),
                "options": {**options, "queue": submitter_queue(route.dest_chain_id)},
            }
    hub = deployment.hub.chain_id
    if deployment.margin is not None and hub in set(keeper_chains):
        every = interval_s if interval_s is not None else _poll_interval(settings, hub)
        schedule[f"keep accounts on {hub}"] = {
            "task": KEEP_TASK,
            "schedule": every,
            "args": (hub,),
            "options": {"expires": 2 * every, "ignore_result": True, "queue": keeper_queue(hub)},
        }
    return schedule


def _poll_interval(settings: Settings, chain_id: int) -> float:
    """Poll interval of a configured chain (1 s if not configured)."""
    try:
        return settings.chain(ChainId(chain_id)).poll_interval
    except ConfigError:
        return 1.0


def static_keeper_chains(settings: Settings, deployment: Deployment) -> set[int]:
    """The hub, when this process's config has a keeper (its worker will consume keeper.<hub>)."""
    return {deployment.hub.chain_id} if settings.keeper is not None else set()


def static_validator_names(settings: Settings) -> set[str]:
    """Validator names known without asking the workers: $XMARGIN_VALIDATOR_NAMES and this config's."""
    names = {n.strip() for n in os.environ.get(VALIDATOR_NAMES_ENV, "").split(",") if n.strip()}
    if settings.validator is not None:
        names.add(settings.validator.name)
    return names


def live_queues(celery_app: Celery, timeout_s: float = DISCOVERY_TIMEOUT_S) -> set[str] | None:
    """Queues consumed by the workers that answer now (Celery remote control), None if none answered."""
    try:
        replies = celery_app.control.inspect(timeout=timeout_s).active_queues() or {}
    except Exception as err:  # noqa: BLE001 - discovery is best effort: beat keeps its previous entries
        log.warning("beat: queue discovery failed: %s", err)
        return None
    if not replies:
        return None
    return {q["name"] for queues in replies.values() for q in (queues or [])}


class RouteScheduler(PersistentScheduler):
    """Beat scheduler whose entries follow the deployment and the live workers: it schedules ticks
    for the validator and submitter queues that have a consumer (plus $XMARGIN_VALIDATOR_NAMES),
    so the queue of a stopped validator does not fill up with ticks nobody will read."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._next_refresh = 0.0
        super().__init__(*args, **kwargs)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        now = time.monotonic()
        if now >= self._next_refresh:
            self._next_refresh = now + DISCOVERY_INTERVAL_S
            self.refresh()
        return super().tick(*args, **kwargs)

    def refresh(self) -> None:
        """Recompute the entries from the deployment file and the queues live workers consume."""
        settings = current_settings()
        try:
            deployment = load_deployment(settings.deployment_file)
        except ConfigError as err:
            log.warning("beat: no deployment yet (%s); no ticks scheduled", err)
            return
        queues = live_queues(self.app)
        if queues is None:
            return  # nobody answered: keep the current entries (their messages expire anyway)
        names = static_validator_names(settings) | {
            q[len(VALIDATOR_QUEUE_PREFIX):] for q in queues if q.startswith(VALIDATOR_QUEUE_PREFIX)
        }
        chains = _chain_ids(queues, SUBMITTER_QUEUE_PREFIX)
        keepers = _chain_ids(queues, KEEPER_QUEUE_PREFIX) | static_keeper_chains(settings, deployment)
        wanted = build_beat_schedule(settings, deployment, names, chains, keeper_chains=keepers)
        if set(wanted) != set(self.schedule):
            log.info(
                "beat: scheduling %d entries (validators %s, destinations %s, keepers on %s)",
                len(wanted), sorted(names), sorted(chains), sorted(keepers),
            )
            self.merge_inplace(wanted)


# ---------------------------------------------------------------------------------- the app


_settings_lock = threading.Lock()
_settings: Settings | None = None


def current_settings() -> Settings:
    """The settings this process was configured with (loaded from $XMARGIN_CONFIG on first use)."""
    global _settings
    with _settings_lock:
        if _settings is None:
            _settings = load_settings()
        return _settings


def celery_config(settings: Settings) -> dict[str, Any]:
    """The app's configuration for `settings`: broker and backend, reliability options, the static schedule."""
    config: dict[str, Any] = {
        "broker_url": settings.redis_url,
        "result_backend": settings.redis_url,
        "result_expires": RESULT_EXPIRES_S,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {"visibility_timeout": VISIBILITY_TIMEOUT_S},
        "result_backend_transport_options": {"visibility_timeout": VISIBILITY_TIMEOUT_S},
        "task_default_queue": "xmargin.default",
        "beat_scheduler": "relayer.worker.app:RouteScheduler",
        "worker_hijack_root_logger": True,
        "timezone": "UTC",
        "enable_utc": True,
    }
    try:
        deployment = load_deployment(settings.deployment_file)
    except ConfigError:
        config["beat_schedule"] = {}
    else:
        config["beat_schedule"] = build_beat_schedule(
            settings, deployment, static_validator_names(settings),
            keeper_chains=static_keeper_chains(settings, deployment),
        )
    return config


def configure(celery_app: Celery, settings: Settings) -> Celery:
    """Apply `settings` to the app (and make them this process's settings)."""
    global _settings
    with _settings_lock:
        _settings = settings
    celery_app.conf.update(celery_config(settings))
    return celery_app


def create_app() -> Celery:
    """The Celery app, configured lazily: settings are read from $XMARGIN_CONFIG when its
    configuration is first needed (a worker or beat starting, a task sent), never at import."""
    celery_app = Celery("xmargin", include=["relayer.worker.tasks"])
    celery_app.add_defaults(lambda: celery_config(current_settings()))
    return celery_app


app = create_app()


@after_setup_logger.connect
def _structured_logs(logger: logging.Logger, *args: Any, **kwargs: Any) -> None:
    """Celery's root handlers print the relayer's structured fields too (or JSON lines)."""
    install(logger)


# ---------------------------------------------------------------------------------- entry points

Role = Literal["validator", "submitter", "keeper", "all"]


def worker_queues(settings: Settings, deployment: Deployment, role: Role) -> list[str]:
    """Queues a worker of `role` consumes: its validator's queue, every destination's, the hub's
    keeper queue. `all` = validator + submitter, plus keeper when configured and deployed."""
    queues: list[str] = []
    if role in ("validator", "all"):
        if settings.validator is None:
            raise ConfigError([("validator", "a validator worker needs a `validator:` section")])
        queues.append(validator_queue(settings.validator.name))
    if role in ("submitter", "all"):
        if settings.submitter is None:
            raise ConfigError([("submitter", "a submitter worker needs a `submitter:` section")])
        queues.extend(sorted({submitter_queue(r.dest_chain_id) for r in deployment.routes()}))
    if role == "keeper" or (role == "all" and settings.keeper is not None and deployment.margin is not None):
        if settings.keeper is None:
            raise ConfigError([("keeper", "a keeper worker needs a `keeper:` section")])
        if deployment.margin is None:
            raise ConfigError([("margin", "the deployment has no margin engine for a keeper to watch")])
        queues.append(keeper_queue(deployment.hub.chain_id))
    return queues


def run_worker(
    settings: Settings, role: Role = "all", name: str | None = None, concurrency: int = 2, pool: str = "threads"
) -> None:
    """Run a worker for `role` in this process (blocks). Threads: the ticks wait on RPC, not CPU."""
    configure(app, settings)
    broker_fix.install()
    queues = worker_queues(settings, load_deployment(settings.deployment_file), role)
    node = name or (settings.validator.name if role == "validator" and settings.validator else role)
    app.worker_main(
        ["worker", "-Q", ",".join(queues), "-n", f"{node}@%h", "--pool", pool,
         "--concurrency", str(concurrency), "--loglevel", "INFO", "--without-gossip", "--without-mingle"]
    )


def run_beat(settings: Settings, schedule_file: Path | None = None) -> None:
    """Run beat in this process (blocks)."""
    configure(app, settings)
    argv = ["beat", "--loglevel", "INFO"]
    if schedule_file is not None:
        argv += ["--schedule", str(schedule_file)]
    app.start(argv)
