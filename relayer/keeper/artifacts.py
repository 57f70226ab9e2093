"""Contract ABIs and bytecode from brownie's build artifacts (build/contracts/<Name>.json)."""

import json
import os
from pathlib import Path
from typing import Any

from relayer.margin.errors import MarginError

BUILD_DIR_ENV = "XMARGIN_BUILD_DIR"
"""Same override as relayer.chain.contracts (not imported: this module must load in the brownie venv,
which has no pydantic-settings)."""
BUILD_DIR = Path(__file__).resolve().parents[2] / "build" / "contracts"


def default_build_dir() -> Path:
    """$XMARGIN_BUILD_DIR or <repo>/build/contracts."""
    return Path(os.environ[BUILD_DIR_ENV]) if os.environ.get(BUILD_DIR_ENV) else BUILD_DIR


class ArtifactMissingError(MarginError):
    """The contract was not compiled (run `brownie compile`)."""

    def __init__(self, name: str, folder: Path) -> None:
        super().__init__(f"no build artifact for {name} in {folder}")


def load_artifact(name: str, build_dir: Path | None = None) -> dict[str, Any]:
    """The brownie artifact of contract `name` (abi, bytecode, ...), from `build_dir` or
    $XMARGIN_BUILD_DIR or <repo>/build/contracts."""
    folder = build_dir or default_build_dir()
    path = folder / f"{name}.json"
    if not path.exists():
        raise ArtifactMissingError(name, folder)
    return json.loads(path.read_text())


def error_selectors(abi: list[dict[str, Any]]) -> dict[str, str]:
    """Map 4-byte selector (0x-hex) -> custom error name for every error in `abi`."""
    from eth_utils import function_signature_to_4byte_selector

    out: dict[str, str] = {}
    for item in abi:
        if item.get("type") == "error":
            sig = f"{item['name']}({','.join(i['type'] for i in item['inputs'])})"
            out["0x" + function_signature_to_4byte_selector(sig).hex()] = item["name"]
    return out
