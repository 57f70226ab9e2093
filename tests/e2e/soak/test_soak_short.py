"""The short soak under faults (bench/soak.py) on a private devnet: 300 deposits and 60 withdrawals
over 90 s while a worker is SIGKILLed and restarted, the RPC proxy drops, delays and fails 10 % of
the relayer's requests and is fully down once, Redis is restarted once and wiped once, and a
shallow reorg hits spoke A. Every deposit must be credited exactly once, every withdrawal released
exactly once, the reorged-away deposit never credited, and `audit` clean.

Ports: $XMARGIN_TEST_BASE_PORT + 20 .. + 28 (chains, API, proxies, control, its own Redis), clear
of the session devnet at + 0 .. + 3. The soak polls with deadlines; its verdict is read from the
JSON report it writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PORT_OFFSET = 20
TIMEOUT_S = 1500.0
"""Devnet up (40-95 s), 90-110 s of load, up to 600 s to drain (257 s at a load average of 75 on 2 cores), teardown."""


def test_short_soak_under_faults_credits_and_releases_everything_exactly_once(tmp_path: Path) -> None:
    base = int(os.environ.get("XMARGIN_TEST_BASE_PORT", "8750")) + PORT_OFFSET
    out = tmp_path / "soak.json"
    argv = [
        sys.executable, str(ROOT / "bench" / "soak.py"),
        "--deposits", "300", "--withdrawals", "60", "--duration", "90",
        "--kill-every", "45", "--outages", "1", "--outage-s", "15", "--redis-restarts", "1", "--redis-wipes", "1",
        "--reorgs", "1", "--drain-timeout", "600", "--base-port", str(base), "--out", str(out),
    ]
    run = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)  # noqa: S603
    print(run.stdout[-6000:], run.stderr[-6000:])
    assert out.exists(), f"no report (exit {run.returncode}):\n{run.stderr[-3000:]}"
    report = json.loads(out.read_text())

    assert report["failures"] == []
    assert report["ok"] and run.returncode == 0
    assert report["sent"]["deposits"] >= 300 and report["sent"]["withdrawals"] == 60
    kinds = [f["kind"] for f in report["faults"]]
    for kind in ("sigkill", "outage", "redis-restart", "redis-wipe", "reorg"):
        assert kind in kinds, f"{kind} never happened: {kinds}"
    assert all(f["recovery_s"] is not None for f in report["faults"]), report["faults"]
    proxy = report["proxy"]
    assert proxy["outages"] == 1 and min(proxy["drop"], proxy["delay"], proxy["error"]) > 0
    routes = report["routes"]
    assert routes["audit_ok"] is True and routes["checked"]["reorg_victims"] == 1
    assert report["unexpected_exits"] == []
