"""Every process of the devnet as data: the devnet runs these, docker-compose.yml must match them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from relayer.devnet.layout import VALIDATOR_COUNT, DevnetLayout, keeper_name, validator_name

Program = Literal["anvil", "xmargin"]
Kind = Literal["chain", "oneshot", "service"]


class ProcessSpec(BaseModel):
    """One process: what runs, with which arguments and environment, and what it waits for."""

    model_config = ConfigDict(frozen=True)

    name: str
    """Process name, log file stem and docker compose service name."""
    program: Program
    """`anvil` (the real binary) or `xmargin` (this package's console command)."""
    args: tuple[str, ...]
    """Arguments after the program: identical in the devnet and in docker-compose.yml."""
    env: dict[str, str] = {}
    """Environment added for this process (its config file; the layout for the deploy one-shot)."""
    kind: Kind
    """chain: an anvil; oneshot: runs to completion (deploy); service: runs until stopped."""
    depends_on: tuple[str, ...] = ()

    @property
    def command(self) -> list[str]:
        """Program and arguments, as docker compose lists them (`entrypoint` + `command`)."""
        return [self.program, *self.args]


def chain_specs(layout: DevnetLayout) -> list[ProcessSpec]:
    """One anvil per chain, interval mining at the layout's block time."""
    return [
        ProcessSpec(
            name=chain.name,
            program="anvil",
            args=(
                "--port", str(chain.port),
                "--chain-id", str(chain.chain_id),
                "--block-time", str(layout.block_time),
            ),
            kind="chain",
        )
        for chain in layout.chains
    ]


def deploy_spec(layout: DevnetLayout) -> ProcessSpec:
    """The one-shot deployment: contracts, listings, validator sets, funding, config files."""
    return ProcessSpec(
        name="deploy",
        program="xmargin",
        args=("devnet", "deploy"),
        env=layout.to_env(),
        kind="oneshot",
        depends_on=tuple(chain.name for chain in layout.chains),
    )


def keeper_spec(layout: DevnetLayout, index: int) -> ProcessSpec:
    """Keeper worker `index` (its own config and key); the devnet runs keeper 1."""
    return ProcessSpec(
        name=keeper_name(index),
        program="xmargin",
        args=("worker", "--role", "keeper", "--name", keeper_name(index)),
        env={"XMARGIN_CONFIG": str(layout.dir / f"{keeper_name(index)}.yaml")},
        kind="service",
        depends_on=("deploy",),
    )


def relayer_specs(layout: DevnetLayout) -> list[ProcessSpec]:
    """Five validator workers (own config, key and database each), one submitter, beat, the API,
    keeper 1 and the oracle pusher."""
    shared = {"XMARGIN_CONFIG": str(layout.dir / "config.yaml")}
    after = ("deploy",)
    specs = [
        ProcessSpec(
            name=validator_name(i),
            program="xmargin",
            args=("worker", "--role", "validator", "--name", validator_name(i)),
            env={"XMARGIN_CONFIG": str(layout.dir / f"{validator_name(i)}.yaml")},
            kind="service",
            depends_on=after,
        )
        for i in range(1, VALIDATOR_COUNT + 1)
    ]
    specs.append(
        ProcessSpec(
            name="submitter",
            program="xmargin",
            args=("worker", "--role", "submitter", "--name", "submitter"),
            env=shared,
            kind="service",
            depends_on=after,
        )
    )
    specs.append(ProcessSpec(name="beat", program="xmargin", args=("beat",), env=shared, kind="service", depends_on=after))
    specs.append(ProcessSpec(name="api", program="xmargin", args=("api",), env=shared, kind="service", depends_on=after))
    specs.append(keeper_spec(layout, 1))
    specs.append(
        ProcessSpec(
            name="oracle",
            program="xmargin",
            args=("oracle", "serve"),
            env={"XMARGIN_CONFIG": str(layout.dir / "oracle.yaml")},
            kind="service",
            depends_on=after,
        )
    )
    return specs


def process_specs(layout: DevnetLayout) -> list[ProcessSpec]:
    """All processes in start order: chains, deploy, then the relayer services."""
    return [*chain_specs(layout), deploy_spec(layout), *relayer_specs(layout)]
