"""Devnet plumbing without chains: layout round trip, generated configs, process-group teardown."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from relayer.config import Deployment, load_settings
from relayer.devnet import deploy
from relayer.devnet._proc import DeadlineError, DevnetError, child_env, poll, spawn
from relayer.devnet.layout import (
    DEPLOYER_KEY,
    KEEPER_COUNT,
    KEEPER_KEYS,
    ORACLE_KEY,
    SUBMITTER_KEY,
    TRADER_KEYS,
    USER_KEYS,
    VALIDATOR_COUNT,
    DevnetLayout,
    validator_address,
    validator_key,
)
from relayer.devnet.specs import process_specs


def test_layout_round_trips_through_the_deploy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    layout = DevnetLayout(dir=Path("/tmp/x"), base_port=9100, redis_url="redis://h:1/3", confirmations=4, block_time=2)
    for name in list(os.environ):
        if name.startswith("XMARGIN_"):
            monkeypatch.delenv(name)
    for key, value in layout.to_env().items():
        monkeypatch.setenv(key, value)
    assert DevnetLayout.from_env() == layout


def test_service_hosts_put_chain_names_in_rpc_urls() -> None:
    layout = DevnetLayout(service_hosts=True)
    assert [layout.rpc_url(c) for c in layout.chains] == [
        "http://hub:18545", "http://spoke-a:18546", "http://spoke-b:18547",
    ]
    assert DevnetLayout().rpc_url(DevnetLayout().chain("hub")) == "http://127.0.0.1:18545"


def test_every_key_has_one_role() -> None:
    validators = [validator_key(i) for i in range(1, VALIDATOR_COUNT + 1)]
    keys = [DEPLOYER_KEY, SUBMITTER_KEY, *USER_KEYS.values(), *validators, *KEEPER_KEYS, ORACLE_KEY, *TRADER_KEYS.values()]
    assert len(set(keys)) == len(keys)


def test_process_names_are_unique_and_relayer_processes_wait_for_deploy() -> None:
    specs = process_specs(DevnetLayout())
    assert len({s.name for s in specs}) == len(specs)
    assert [s.name for s in specs if s.args[:2] == ("worker", "--role")].count("submitter") == 1
    assert sum(1 for s in specs if s.args[:3] == ("worker", "--role", "validator")) == VALIDATOR_COUNT
    for spec in specs:
        if spec.kind == "service":
            assert spec.depends_on == ("deploy",)
    assert [s.args for s in specs if s.name in ("keeper-1", "oracle")] == [
        ("worker", "--role", "keeper", "--name", "keeper-1"), ("oracle", "serve"),
    ]


def _deployment() -> Deployment:
    return Deployment(
        hub={"chain_id": 31337, "ledger": "0x5FbDB2315678afecb367f032d93F642f64180aa3"},
        spokes={31338: {"lockbox": "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0"}},
        validators=[validator_address(i) for i in range(1, VALIDATOR_COUNT + 1)],
        threshold=3,
    )


def test_generated_configs_load_and_each_holds_only_its_own_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("XMARGIN_"):
            monkeypatch.delenv(name)
    layout = DevnetLayout(dir=tmp_path, base_port=9200, redis_url="redis://127.0.0.1:6379/7")
    deploy.write_files(layout, _deployment())

    shared = load_settings(layout.config_path)
    assert shared.validator is None and shared.submitter is not None
    assert shared.redis_url == "redis://127.0.0.1:6379/7"
    assert shared.chains["spoke-a"].rpc_urls == ["http://127.0.0.1:9201"]
    assert shared.chains["hub"].confirmations == 2
    seen_db = set()
    for i in range(1, VALIDATOR_COUNT + 1):
        settings = load_settings(layout.validator_config_path(i))
        assert settings.submitter is None
        assert settings.validator is not None and settings.validator.address == validator_address(i)
        assert settings.validator.db_path.parent.is_dir()
        assert settings.validator.publish_to == ["http://127.0.0.1:9203"]  # the API, over HTTP
        assert settings.chains["hub"].devnet and settings.chains["hub"].finality == "depth"
        seen_db.add(settings.validator.db_path)
        assert oct(layout.validator_config_path(i).stat().st_mode & 0o777) == "0o600"
        assert "DEV ONLY" in layout.validator_config_path(i).read_text()
    assert len(seen_db) == VALIDATOR_COUNT
    assert shared.keeper is None and shared.oracle is None
    for i in range(1, KEEPER_COUNT + 1):
        keeper = load_settings(layout.keeper_config_path(i))
        assert keeper.keeper is not None and keeper.keeper.key.get_secret_value() == KEEPER_KEYS[i - 1]
        assert keeper.submitter is None and keeper.validator is None and keeper.oracle is None
    pusher = load_settings(layout.oracle_config_path)
    assert pusher.oracle is not None and pusher.oracle.key.get_secret_value() == ORACLE_KEY and pusher.keeper is None


def test_stopping_a_process_group_stops_its_children(tmp_path: Path) -> None:
    child_pid_file = tmp_path / "child.pid"
    proc = spawn("sleeper", ["/bin/sh", "-c", f"sleep 60 & echo $! > {child_pid_file}; wait"], tmp_path / "log")
    child = int(poll(lambda: child_pid_file.read_text().strip() or None, "child pid", 5))
    proc.kill()
    poll(lambda: not _exists(child), "child to die with its group", 5)


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]


def test_poll_raises_at_its_deadline_and_stops_early_on_devnet_errors() -> None:
    with pytest.raises(DeadlineError, match="timed out after 0s waiting for never"):
        poll(lambda: None, "never", 0.3, interval_s=0.05)

    def broken() -> None:
        raise DevnetError("anvil exited")

    with pytest.raises(DevnetError, match="anvil exited"):
        poll(broken, "chain", 30)


def test_ready_markers_come_from_the_log_of_this_run_only(tmp_path: Path) -> None:
    log = tmp_path / "w.log"
    log.write_text("old run ... ready.\n")
    proc = spawn("echo", [sys.executable, "-c", "print('new run')"], log)
    proc.reap()
    assert proc.log_text() == "new run\n"


def test_devnet_processes_take_settings_from_their_files_not_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XMARGIN_REDIS_URL", "redis://elsewhere:6379/0")
    monkeypatch.setenv("XMARGIN_CHAINS__HUB__CONFIRMATIONS", "0")
    monkeypatch.setenv("XMARGIN_BUILD_DIR", "/some/build")
    monkeypatch.setenv("XMARGIN_CRASH_DATA", "/some/crashes")  # the deploy's start prices = the scenario's path
    env = child_env({"XMARGIN_CONFIG": "/devnet/config.yaml"})
    assert env["XMARGIN_CRASH_DATA"] == "/some/crashes"
    assert "XMARGIN_REDIS_URL" not in env and "XMARGIN_CHAINS__HUB__CONFIRMATIONS" not in env
    assert env["XMARGIN_BUILD_DIR"] == "/some/build"
    assert env["XMARGIN_CONFIG"] == "/devnet/config.yaml"
    assert env["PATH"] == os.environ["PATH"]
