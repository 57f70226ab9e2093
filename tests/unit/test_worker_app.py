"""Celery wiring: reliability options, task retry policy, queues per role, the beat schedule, and
beat's discovery of live worker queues (a real in-process worker on a private Redis)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker

from _roles_fixtures import roles_redis_url  # noqa: F401  (fixture)
from relayer.config import Deployment, Settings
from relayer.errors import ChainCallError, ConfigError, RpcUnavailableError
from relayer.worker import app as worker_app
from relayer.worker import tasks
from relayer.worker.app import (
    KEEP_TASK,
    SUBMIT_TASK,
    VALIDATE_TASK,
    RouteScheduler,
    build_beat_schedule,
    configure,
    live_queues,
    worker_queues,
)

HUB, SPOKE_A, SPOKE_B = 31337, 31338, 31339
KEY = "0x" + "11" * 32
DEPLOYMENT = {
    "hub": {"chain_id": HUB, "ledger": "0x" + "aa" * 20},
    "spokes": {str(SPOKE_A): {"lockbox": "0x" + "bb" * 20}, str(SPOKE_B): {"lockbox": "0x" + "cc" * 20}},
    "validators": ["0x" + "01" * 20, "0x" + "02" * 20],
    "threshold": 2,
}
MARGIN = {
    "oracle": "0x" + "d1" * 20, "risk_engine": "0x" + "d2" * 20, "liquidation": "0x" + "d3" * 20,
    "lens": "0x" + "d4" * 20, "pool": "0x" + "d5" * 20, "insurance_fund": "0x" + "d6" * 20,
    "feeds": {"ETH": {"feed_id": 2, "aggregator": "0x" + "d7" * 20}},
    "markets": {"ETH-USD": {"address": "0x" + "d8" * 20, "feed": "ETH"}},
}


def _settings(tmp_path: Path, redis_url: str = "redis://127.0.0.1:6392/0", **extra: object) -> Settings:
    path = tmp_path / "deployment.json"
    path.write_text(json.dumps(DEPLOYMENT))
    chains = {
        "hub": {"chain_id": HUB, "rpc_urls": ["http://127.0.0.1:1"], "role": "hub", "poll_interval": 0.5},
        "a": {"chain_id": SPOKE_A, "rpc_urls": ["http://127.0.0.1:1"], "role": "spoke", "poll_interval": 2.0},
        "b": {"chain_id": SPOKE_B, "rpc_urls": ["http://127.0.0.1:1"], "role": "spoke"},
    }
    return Settings(redis_url=redis_url, chains=chains, deployment_file=path, **extra)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return _settings(tmp_path)


def test_app_reliability_options(settings: Settings) -> None:
    app = configure(worker_app.app, settings)
    conf = app.conf
    assert conf.broker_url == conf.result_backend == settings.redis_url
    assert conf.task_acks_late is True and conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.result_expires and conf.result_expires <= 3600
    assert conf.beat_scheduler.endswith(":RouteScheduler")


@pytest.mark.parametrize("task", [tasks.validate_route, tasks.submit_route, tasks.keep_accounts])
def test_periodic_ticks_are_redelivered_but_never_retry_themselves(task) -> None:
    assert task.acks_late is True and task.reject_on_worker_lost is True
    assert not getattr(task, "autoretry_for", ())  # beat sends the next tick within a second: a backoff would only pile up
    assert task.max_retries == 0
    assert task.name in (VALIDATE_TASK, SUBMIT_TASK, KEEP_TASK)


def test_a_transient_failure_ends_the_tick_with_its_route_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    class Down:
        def submitter(self):  # noqa: ANN202
            raise RpcUnavailableError("hub", ["http://127.0.0.1:9"], "eth_call", "refused")

    monkeypatch.setattr(tasks, "context", lambda: Down())
    route = f"deposit:{SPOKE_A}->{HUB}"
    with caplog.at_level("WARNING", logger="relayer.worker.tasks"):
        result = tasks.submit_route.run(route)
    assert result["skipped"] == "transient" and result["route"] == route
    (record,) = caplog.records
    assert record.route == route and record.chain == HUB  # structured fields, not only text
    with pytest.raises(ChainCallError):  # anything else still fails the task loudly
        monkeypatch.setattr(Down, "submitter", lambda self: (_ for _ in ()).throw(ChainCallError("hub", "x", "y")))
        tasks.submit_route.run(route)


def test_importing_the_worker_app_loads_no_settings(tmp_path: Path) -> None:
    import subprocess
    import sys

    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
           "XMARGIN_CONFIG": str(tmp_path / "missing.yaml")}
    code = "import relayer.worker.app as a, relayer.worker.tasks; print(a.app.main)"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "xmargin"


def test_beat_schedule_covers_every_route_for_every_validator_and_destination(settings: Settings) -> None:
    deployment = Deployment.model_validate(DEPLOYMENT)
    schedule = build_beat_schedule(settings, deployment, ["validator-1", "validator-2", "validator-1"])
    validate = {k: v for k, v in schedule.items() if v["task"] == VALIDATE_TASK}
    submit = {k: v for k, v in schedule.items() if v["task"] == SUBMIT_TASK}
    routes = [str(r) for r in deployment.routes()]
    assert len(routes) == 4 and len(validate) == 8 and len(submit) == 4
    assert {(v["args"], v["options"]["queue"]) for v in validate.values()} == {
        ((r,), f"validator.validator-{i}") for r in routes for i in (1, 2)
    }
    assert {(v["args"][0], v["options"]["queue"]) for v in submit.values()} == {
        (f"deposit:{SPOKE_A}->{HUB}", f"submitter.{HUB}"),
        (f"deposit:{SPOKE_B}->{HUB}", f"submitter.{HUB}"),
        (f"withdrawal:{HUB}->{SPOKE_A}", f"submitter.{SPOKE_A}"),
        (f"withdrawal:{HUB}->{SPOKE_B}", f"submitter.{SPOKE_B}"),
    }
    for entry in schedule.values():
        every = entry["schedule"]
        assert 0 < entry["options"]["expires"] <= 2 * every  # a tick never outlives two periods
        assert all(isinstance(a, str) for a in entry["args"])  # ids, not objects
    # interval follows the source chain's poll interval
    assert schedule[f"submit deposit:{SPOKE_A}->{HUB}"]["schedule"] == 2.0
    assert schedule[f"submit withdrawal:{HUB}->{SPOKE_A}"]["schedule"] == 0.5


def test_beat_schedule_can_be_narrowed_to_live_destinations(settings: Settings) -> None:
    deployment = Deployment.model_validate(DEPLOYMENT)
    schedule = build_beat_schedule(settings, deployment, [], submitter_chains=[HUB], interval_s=1.0)
    assert sorted(v["options"]["queue"] for v in schedule.values()) == [f"submitter.{HUB}"] * 2


def test_worker_queues_per_role(tmp_path: Path) -> None:
    deployment = Deployment.model_validate(DEPLOYMENT)
    full = _settings(
        tmp_path,
        validator={"name": "validator-3", "key": KEY, "db_path": str(tmp_path / "v3.db")},
        submitter={"key": KEY},
    )
    assert worker_queues(full, deployment, "validator") == ["validator.validator-3"]
    assert worker_queues(full, deployment, "submitter") == [f"submitter.{c}" for c in (HUB, SPOKE_A, SPOKE_B)]
    assert len(worker_queues(full, deployment, "all")) == 4
    with pytest.raises(ConfigError):
        worker_queues(_settings(tmp_path), deployment, "validator")


def test_beat_discovers_live_worker_queues(tmp_path: Path, roles_redis_url: str) -> None:  # noqa: F811
    settings = _settings(tmp_path, redis_url=roles_redis_url)
    app = configure(worker_app.app, settings)
    queues = f"validator.validator-7,submitter.{SPOKE_B}"
    with start_worker(app, pool="solo", perform_ping_check=False, queues=queues.split(","), shutdown_timeout=10):
        assert live_queues(app, timeout_s=2.0) >= set(queues.split(","))
        scheduler = RouteScheduler(app=app, schedule_filename=str(tmp_path / "beat-schedule"))
        scheduler.refresh()
        entries = {
            name: e.options["queue"]
            for name, e in scheduler.schedule.items()
            if e.task in (VALIDATE_TASK, SUBMIT_TASK)
        }
        scheduler.close()
    assert set(entries.values()) == {"validator.validator-7", f"submitter.{SPOKE_B}"}
    assert len([q for q in entries.values() if q.startswith("validator.")]) == 4


def test_keeper_round_is_scheduled_on_the_hub_queue_only_with_a_margin_engine_and_a_keeper(settings: Settings) -> None:
    plain = Deployment.model_validate(DEPLOYMENT)
    margin = Deployment.model_validate({**DEPLOYMENT, "margin": MARGIN})
    assert not any(e["task"] == KEEP_TASK for e in build_beat_schedule(settings, plain, [], keeper_chains=[HUB]).values())
    assert not any(e["task"] == KEEP_TASK for e in build_beat_schedule(settings, margin, []).values())  # nobody keeps
    schedule = build_beat_schedule(settings, margin, [], keeper_chains=[HUB])
    (entry,) = [e for e in schedule.values() if e["task"] == KEEP_TASK]
    assert entry["args"] == (HUB,) and entry["options"]["queue"] == f"keeper.{HUB}"
    assert entry["schedule"] == 0.5 and entry["options"]["expires"] == 1.0  # the hub's poll interval


def test_keeper_worker_consumes_the_hub_keeper_queue(tmp_path: Path) -> None:
    margin = Deployment.model_validate({**DEPLOYMENT, "margin": MARGIN})
    keeper = _settings(tmp_path, keeper={"key": KEY})
    assert worker_queues(keeper, margin, "keeper") == [f"keeper.{HUB}"]
    full = _settings(tmp_path, keeper={"key": KEY}, submitter={"key": KEY},
                     validator={"name": "v", "key": KEY, "db_path": str(tmp_path / "v.db")})
    assert worker_queues(full, margin, "all")[-1] == f"keeper.{HUB}"
    assert f"keeper.{HUB}" not in worker_queues(full, Deployment.model_validate(DEPLOYMENT), "all")
    with pytest.raises(ConfigError, match="keeper"):
        worker_queues(_settings(tmp_path), margin, "keeper")
    with pytest.raises(ConfigError, match="margin"):
        worker_queues(keeper, Deployment.model_validate(DEPLOYMENT), "keeper")


def test_beat_schedules_keepers_it_discovers(tmp_path: Path, roles_redis_url: str) -> None:  # noqa: F811
    settings = _settings(tmp_path, redis_url=roles_redis_url)
    settings.deployment_file.write_text(json.dumps({**DEPLOYMENT, "margin": MARGIN}))
    app = configure(worker_app.app, settings)
    with start_worker(app, pool="solo", perform_ping_check=False, queues=[f"keeper.{HUB}"], shutdown_timeout=10):
        scheduler = RouteScheduler(app=app, schedule_filename=str(tmp_path / "beat-schedule"))
        scheduler.refresh()
        keeps = [e.options["queue"] for e in scheduler.schedule.values() if e.task == KEEP_TASK]
        scheduler.close()
    assert keeps == [f"keeper.{HUB}"]
