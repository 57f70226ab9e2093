"""Flower, started with docker-compose.yml's own command against a real Redis, sees a relayer-style
Celery worker come and go in the metric XmarginWorkerOffline reads."""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from local_services import REPO, stop_process, throwaway_redis

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("flower") is None,
    reason="flower is not installed in this environment: `make setup` installs requirements/runtime.txt",
)
DEADLINE_S = 30.0
WORKER = "keeper-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def compose_flower_argv(broker: str, port: int) -> list[str]:
    """The flower service's entrypoint + command from docker-compose.yml, pointed at `broker` and
    served on loopback `port` (the only differences from compose)."""
    service = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]["flower"]
    argv = [*service["entrypoint"], *service["command"]]
    assert argv[0] == "celery"
    argv[argv.index("--broker") + 1] = broker
    argv = [a for a in argv if not a.startswith(("--port=", "--address="))]
    return [sys.executable, "-m", "celery", *argv[1:], "--address=127.0.0.1", f"--port={port}"]


def _worker_online(url: str) -> float | None:
    """flower_worker_online for our worker, or None while Flower has not seen it (or is starting)."""
    try:
        text = requests.get(f"{url}/metrics", timeout=2).text
    except requests.RequestException:
        return None
    for line in text.splitlines():
        if line.startswith(f'flower_worker_online{{worker="{WORKER}@'):
            return float(line.rsplit(" ", 1)[1])
    return None


def _wait_for(url: str, expected: float, flower: subprocess.Popen[bytes], log: Path) -> None:
    end = time.monotonic() + DEADLINE_S
    while time.monotonic() < end:
        if flower.poll() is not None:
            pytest.fail(f"flower exited with {flower.returncode}:\n{log.read_text(errors='replace')[-2000:]}")
        if _worker_online(url) == expected:
            return
        time.sleep(0.2)
    pytest.fail(f"flower_worker_online for {WORKER} did not become {expected} within {DEADLINE_S}s")


@pytest.fixture()
def broker() -> Iterator[str]:
    with throwaway_redis(_free_port()) as url:
        yield url


def test_flower_reports_a_worker_online_then_offline(broker: str, tmp_path: Path) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "flower.log"
    log = log_path.open("wb")
    flower = subprocess.Popen(compose_flower_argv(broker, port), stdout=log, stderr=subprocess.STDOUT)
    # The relayer's workers run with these options (relayer/worker/app.py: run_worker).
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "--broker", broker, "worker", "-n", f"{WORKER}@%h", "--pool", "threads",
         "--concurrency", "1", "--without-gossip", "--without-mingle"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(url, 1.0, flower, log_path)
        assert requests.get(f"{url}/healthcheck", timeout=2).text == "OK"
        stop_process(worker)  # a warm shutdown announces worker-offline
        _wait_for(url, 0.0, flower, log_path)
    finally:
        if worker.poll() is None:
            stop_process(worker)
        stop_process(flower)
        log.close()
