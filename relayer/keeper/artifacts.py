"""Contract ABIs and bytecode from brownie's build artifacts (build/contracts/<Name>.json)."""

import json
from pathlib import Path
from typing import Any

from relayer.margin.errors import MarginError

BUILD_DIR = Path(__file__).resolve().parents[2] / "build" / "contracts"


class ArtifactMissingError(MarginError):
    """The contract was not compiled (run `brownie compile`)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no build artifact for {name} in {BUILD_DIR}")


def load_artifact(name: str, build_dir: Path = BUILD_DIR) -> dict[str, Any]:
    """The brownie artifact of contract `name` (abi, bytecode, ...)."""
    path = build_dir / f"{name}.json"
    if not path.exists():
        raise ArtifactMissingError(name)
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
