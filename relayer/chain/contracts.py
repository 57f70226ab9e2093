"""Contract bindings from brownie's build artifacts (build/contracts/<Name>.json)."""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from web3.contract import Contract

from relayer.chain.client import ChainClient
from relayer.errors import ConfigError
from relayer.types import checksum

BUILD_DIR_ENV = "XMARGIN_BUILD_DIR"
"""Overrides where artifacts are read from (default: <repo>/build/contracts)."""
_DEFAULT_BUILD_DIR = Path(__file__).resolve().parents[2] / "build" / "contracts"


class Artifact(BaseModel):
    """The parts of a compiled contract the relayer uses."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    name: str = Field(alias="contractName")
    abi: list[dict[str, Any]]
    bytecode: str = ""
    """Creation code as hex without 0x (empty for abstract contracts and interfaces)."""


def build_dir() -> Path:
    """Folder holding the artifacts: $XMARGIN_BUILD_DIR or <repo>/build/contracts."""
    return Path(os.environ[BUILD_DIR_ENV]) if os.environ.get(BUILD_DIR_ENV) else _DEFAULT_BUILD_DIR


@lru_cache(maxsize=64)
def _read(path: Path, mtime_ns: int) -> Artifact:
    """Parsed artifact, cached per file version."""
    try:
        return Artifact.model_validate(json.loads(path.read_text()))
    except (json.JSONDecodeError, ValidationError) as err:
        raise ConfigError([(path.stem, f"malformed artifact: {err}")], str(path)) from err


def load_artifact(name: str) -> Artifact:
    """Artifact of contract `name`; ConfigError if missing (run `brownie compile`) or malformed."""
    path = build_dir() / f"{name}.json"
    try:
        mtime_ns = path.stat().st_mtime_ns
    except OSError as err:
        raise ConfigError([(name, "no compiled artifact; run `brownie compile`")], str(path)) from err
    return _read(path, mtime_ns)


def contract(client: ChainClient, name: str, address: str) -> Contract:
    """Web3 contract `name` at `address` on `client`'s chain."""
    return client.w3.eth.contract(address=checksum(address), abi=load_artifact(name).abi)


def lockbox(client: ChainClient, address: str) -> Contract:
    """The Lockbox at `address` (a spoke, or the hub if it has one)."""
    return contract(client, "Lockbox", address)


def ledger(client: ChainClient, address: str) -> Contract:
    """The MarginLedger at `address` on the hub."""
    return contract(client, "MarginLedger", address)
