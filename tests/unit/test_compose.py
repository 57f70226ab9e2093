"""docker-compose.yml must describe the devnet's topology with exactly the devnet's commands."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from relayer.devnet.layout import DevnetLayout
from relayer.devnet.specs import ProcessSpec, process_specs

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
COMPOSE_LAYOUT = DevnetLayout(service_hosts=True, redis_url="redis://redis:6379/0")
"""The devnet layout as compose runs it: service names for hosts, the `redis` service."""
INFRA_ONLY = {"redis", "flower"}
"""Compose services the devnet does not start itself: the Redis at the configured URL, and Flower
(Celery's monitor, an operator's tool watching the same broker)."""


@pytest.fixture(scope="module")
def services() -> dict[str, dict]:
    return yaml.safe_load(COMPOSE.read_text())["services"]


SPECS = process_specs(COMPOSE_LAYOUT)


def _as_list(value: object) -> list[str]:
    """Compose allows a string or a list for entrypoint/command; we only write lists."""
    assert isinstance(value, list), f"use the list form, got {value!r}"
    return [str(v) for v in value]


def _depends(service: dict) -> set[str]:
    deps = service.get("depends_on", [])
    return set(deps) if isinstance(deps, list) else set(deps)


def test_compose_has_exactly_the_devnet_services(services: dict[str, dict]) -> None:
    assert set(services) == {s.name for s in SPECS} | INFRA_ONLY


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_service_runs_the_devnet_command(services: dict[str, dict], spec: ProcessSpec) -> None:
    service = services[spec.name]
    assert _as_list(service["entrypoint"]) + _as_list(service["command"]) == spec.command


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_service_environment_includes_the_devnet_environment(services: dict[str, dict], spec: ProcessSpec) -> None:
    env = {k: str(v) for k, v in (services[spec.name].get("environment") or {}).items()}
    assert {k: env.get(k) for k in spec.env} == spec.env


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_service_waits_for_what_the_devnet_waits_for(services: dict[str, dict], spec: ProcessSpec) -> None:
    assert set(spec.depends_on) <= _depends(services[spec.name])


def test_relayer_services_share_the_devnet_directory(services: dict[str, dict]) -> None:
    for spec in SPECS:
        if spec.program == "xmargin":
            assert "devnet:/app/.devnet" in services[spec.name]["volumes"], spec.name


def test_a_changed_command_is_caught(services: dict[str, dict]) -> None:
    """The comparison is sensitive: another block time would not match the hub's command."""
    other = process_specs(DevnetLayout(service_hosts=True, redis_url="redis://redis:6379/0", block_time=2))
    hub = next(s for s in other if s.name == "hub")
    assert _as_list(services["hub"]["entrypoint"]) + _as_list(services["hub"]["command"]) != hub.command


def test_flower_watches_the_broker_the_relayer_uses(services: dict[str, dict]) -> None:
    flower = services["flower"]
    argv = _as_list(flower["entrypoint"]) + _as_list(flower["command"])
    assert argv[:3] == ["celery", "--broker", COMPOSE_LAYOUT.redis_url]
    assert argv[3] == "flower"
    assert flower["image"] == services["api"]["image"]
    assert "redis" in _depends(flower)


def test_flower_is_published_on_the_hosts_loopback_only(services: dict[str, dict]) -> None:
    """Flower has no login in this set-up: anyone reaching it would read every task and its arguments."""
    ports = [str(p) for p in services["flower"]["ports"]]
    assert ports and all(p.startswith("127.0.0.1:") for p in ports)
    port = next(a.split("=", 1)[1] for a in _as_list(services["flower"]["command"]) if a.startswith("--port="))
    assert all(p.endswith(f":{port}") for p in ports)


def test_flower_and_its_dependencies_are_pinned_in_the_runtime_requirements() -> None:
    """The image installs requirements/runtime.txt (make compile): Flower must be in it, exactly."""
    pins = dict(
        line.split("==", 1) for line in (REPO / "requirements/runtime.txt").read_text().splitlines() if "==" in line
    )
    for package in ("flower", "tornado", "humanize", "pytz", "prometheus_client", "celery"):
        assert package in pins, f"{package} is not pinned in requirements/runtime.txt"
