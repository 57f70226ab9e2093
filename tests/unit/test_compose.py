"""docker-compose.yml must describe the devnet's topology with exactly the devnet's commands."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from relayer.devnet.layout import DevnetLayout
from relayer.devnet.specs import ProcessSpec, process_specs

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
COMPOSE_LAYOUT = DevnetLayout(service_hosts=True, redis_url="redis://redis:6379/0")
"""The devnet layout as compose runs it: service names for hosts, the `redis` service."""
INFRA_ONLY = {"redis"}
"""Compose services the devnet does not start itself (it uses the Redis at the configured URL)."""


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
