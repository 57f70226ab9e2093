"""`xmargin deploy <network>`: deploy a real network from config/deploy/<network>.yaml (docs/deploy.md).
Registered on the main app by relayer.cli."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from relayer._cli import fail, out

DEPLOYER_KEY_ENV = "XMARGIN_DEPLOYER_KEY"
"""The deployer's private key: from the environment only, never from a file in the repository."""


def deploy(
    network: Annotated[str, typer.Argument(help="Network name: the plan is config/deploy/<network>.yaml")],
    plan: Annotated[Path | None, typer.Option("--plan", help="Plan (default: config/deploy/<network>.yaml)")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Chains (default: the plan's)")] = None,
    out_path: Annotated[Path | None, typer.Option("--out", help="Record (default: deployments/<network>.json)")] = None,
) -> None:
    """Deploy timelocks, ledger, lockboxes and the margin engine, hand governance to the timelocks, write the record."""
    from relayer.config import load_settings
    from relayer.deploy.network import deploy_network, write_record
    from relayer.deploy.plan import load_plan
    from relayer.deployment import load_deployment

    key = os.environ.get(DEPLOYER_KEY_ENV)
    if not key:
        fail(f"set {DEPLOYER_KEY_ENV} to the deployer's private key (it needs gas on every chain of the plan)")
    the_plan = load_plan(plan or Path("config/deploy") / f"{network}.yaml")
    if the_plan.network != network:
        fail(f"the plan is for network {the_plan.network!r}, not {network!r}")
    settings = load_settings(config or the_plan.config)
    record = out_path or Path("deployments") / f"{network}.json"
    if record.exists():
        fail(f"{record} exists: a network is deployed once (move it away to deploy again)")
    deployment = deploy_network(the_plan, settings, key, report=out.print)
    write_record(deployment, record)
    load_deployment(record)  # read back exactly as every relayer role will
    out.print(f"wrote {record}; point `deployment_file:` of the relayer configs at it")
