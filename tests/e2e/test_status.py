"""`xmargin status` after the other tests: every route caught up; a stopped devnet gives a clear error."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import yaml
from helpers import wait_caught_up


def _xmargin(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "relayer.cli", *args], capture_output=True, text=True, timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_status_shows_every_route_caught_up(devnet, backend) -> None:
    wait_caught_up(backend, backend.deployment.routes())
    result = _xmargin("status", "--json", "--config", str(devnet.layout.config_path))
    assert result.returncode == 0, result.stderr
    statuses = json.loads(result.stdout)
    assert {s["route"] for s in statuses} == {str(r) for r in backend.deployment.routes()}
    for s in statuses:
        assert s["caught_up"] and s["lag_blocks"] == 0 and s["source_nonce"] == s["processed_nonce"], s

    table = _xmargin("status", "--config", str(devnet.layout.config_path))
    assert table.returncode == 0, table.stderr
    assert table.stdout.count("caught up") == len(statuses)


def test_status_exits_non_zero_when_the_devnet_is_not_running(devnet, tmp_path) -> None:
    config = yaml.safe_load(devnet.layout.config_path.read_text())
    for chain in config["chains"].values():
        chain["rpc_urls"] = ["http://127.0.0.1:9"]  # nothing listens on the discard port
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    result = _xmargin("status", "--config", str(path))
    assert result.returncode == 2
    assert "is the devnet running" in result.stderr

    missing = _xmargin("status", "--config", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2
    assert "is the devnet running" in missing.stderr
