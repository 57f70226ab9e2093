"""scripts/slither_gate.py: which folders slither runs on, what fails the gate, what a suppression needs."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def gate() -> ModuleType:
    spec = importlib.util.spec_from_file_location("slither_gate", REPO / "scripts/slither_gate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module's namespace
    spec.loader.exec_module(module)
    return module


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _report(*results: dict, success: bool = True) -> dict:
    return {"success": success, "error": None if success else "boom", "results": {"detectors": list(results)}}


def _result(check: str, impact: str, file: str, line: int, rid: str) -> dict:
    mapping = {"filename_relative": file, "lines": [line, line + 1]}
    return {
        "check": check, "impact": impact, "confidence": "Medium", "id": rid,
        "description": f"{check} at {file}#{line}\n\t- detail", "elements": [{"source_mapping": mapping}],
    }


def test_targets_reach_a_folder_nothing_at_the_top_imports(gate: ModuleType, tmp_path: Path) -> None:
    root = _write(tmp_path, {
        "contracts/Top.sol": 'import {L} from "./lib/L.sol";\n',
        "contracts/lib/L.sol": "",
        "contracts/margin/M.sol": 'import {I} from "../interfaces/I.sol";\nimport {X} from "@openzeppelin/x.sol";\n',
        "contracts/interfaces/I.sol": "",
        "contracts/test/Mock.sol": "",
    })
    assert gate.choose_targets(root) == [Path("contracts"), Path("contracts/margin")]


def test_an_orphan_file_gets_its_own_target(gate: ModuleType, tmp_path: Path) -> None:
    root = _write(tmp_path, {"contracts/Top.sol": "", "contracts/verification/Orphan.sol": ""})
    assert gate.choose_targets(root) == [Path("contracts"), Path("contracts/verification")]


def test_test_doubles_are_never_analysed(gate: ModuleType, tmp_path: Path) -> None:
    root = _write(tmp_path, {"contracts/Top.sol": "", "contracts/test/margin/Mock.sol": ""})
    assert gate.contract_files(root) == [Path("contracts/Top.sol")]
    assert gate.choose_targets(root) == [Path("contracts")]


def test_the_repository_targets_cover_every_contract(gate: ModuleType) -> None:
    targets = gate.choose_targets(REPO)
    files = set(gate.contract_files(REPO))
    covered = set().union(*(gate.closure(REPO, {f for f in files if f.parent == t}) for t in targets))
    assert files and files <= covered


def test_high_and_medium_findings_block_and_duplicates_count_once(gate: ModuleType) -> None:
    top = gate.findings_of(_report(
        _result("uninitialized-local", "Medium", "contracts/A.sol", 7, "a"),
        _result("timestamp", "Low", "contracts/A.sol", 9, "b"),
    ))
    margin = gate.findings_of(_report(
        _result("uninitialized-local", "Medium", "contracts/A.sol", 7, "a"),
        _result("arbitrary-send-eth", "High", "contracts/margin/M.sol", 3, "c"),
    ))
    merged = gate.merge([top, margin])
    assert [f.id for f in merged] == ["c", "a", "b"]
    assert [(f.check, f.location) for f in gate.blocking(merged)] == [
        ("arbitrary-send-eth", "contracts/margin/M.sol:3"),
        ("uninitialized-local", "contracts/A.sol:7"),
    ]
    assert merged[0].description == "arbitrary-send-eth at contracts/margin/M.sol#3"


def test_a_failed_slither_run_is_an_error_not_a_clean_result(gate: ModuleType) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        gate.findings_of(_report(success=False))


def test_a_suppression_must_say_why(gate: ModuleType, tmp_path: Path) -> None:
    root = _write(tmp_path, {"contracts/A.sol": "\n".join([
        "contract A {",
        "    // slither-disable-next-line uninitialized-local zero is the intended start",
        "    uint256 a;",
        "    // the ascending check starts below every address",
        "    // slither-disable-next-line uninitialized-local",
        "    address b;",
        "    uint256 c; // slither-disable-next-line divide-before-multiply",
        "    // slither-disable-start calls-loop",
        "    // slither-disable-end calls-loop",
        "}",
    ])})
    bad = gate.bad_suppressions(root)
    assert [b.location for b in bad] == ["contracts/A.sol:7", "contracts/A.sol:8"]


def test_the_slither_invocation_filters_dependencies_and_test_doubles(gate: ModuleType) -> None:
    cmd = gate.slither_command(Path("slither"), Path("contracts/margin"), Path("out.json"))
    assert cmd[:2] == ["slither", "contracts/margin"]
    assert cmd[cmd.index("--filter-paths") + 1] == "node_modules|contracts/test"
    assert "--solc-standard-json" in cmd and cmd[cmd.index("--json") + 1] == "out.json"


def test_slither_is_pinned_and_kept_out_of_the_shared_environments() -> None:
    pins = (REPO / "requirements/slither.txt").read_text().splitlines()
    assert "slither-analyzer==0.11.6" in pins
    assert all("==" in p for p in pins if p and not p.startswith("#"))
    assert ".venv-slither/" in (REPO / ".gitignore").read_text().splitlines()


SLITHER = REPO / ".venv-slither/bin/slither"
_UNINITIALISED = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

contract Counter {
    function count(uint256[] calldata xs) external pure returns (uint256 n) {
{suppression}        uint256 total;
        for (uint256 i; i < xs.length; ++i) total += xs[i];
        n = total;
    }
}
"""


@pytest.mark.skipif(not SLITHER.exists(), reason="no .venv-slither (make slither installs it)")
@pytest.mark.parametrize("suppressed", [False, True])
def test_real_slither_blocks_a_new_medium_finding_until_suppressed_with_a_reason(
    gate: ModuleType, tmp_path: Path, suppressed: bool
) -> None:
    """The gate end to end with the pinned slither: a new uninitialised local (medium) fails it;
    the same code with an inline suppression and its reason passes."""
    line = "        // slither-disable-next-line uninitialized-local a sum that starts at zero\n" if suppressed else ""
    root = _write(tmp_path, {"contracts/Counter.sol": _UNINITIALISED.replace("{suppression}", line)})
    (root / "tools").symlink_to(REPO / "tools")
    (root / "node_modules").symlink_to(REPO / "node_modules")
    findings, _ = gate.run(root, SLITHER, tmp_path / "reports")
    blocking = [(f.check, f.location) for f in gate.blocking(findings)]
    assert blocking == ([] if suppressed else [("uninitialized-local", "contracts/Counter.sol:6")])
    assert gate.bad_suppressions(root) == []


def test_ci_runs_the_gate_through_the_readme_test_command() -> None:
    """README's test command is what .ci/run calls, and it runs slither before the tests."""
    makefile = (REPO / "Makefile").read_text()
    test_rule = next(line for line in makefile.splitlines() if line.startswith("test:"))
    assert "slither" in test_rule.split(":", 1)[1].split()
    assert "$(SVENV)/bin/python scripts/slither_gate.py" in makefile
    assert (REPO / ".ci/run").read_text().strip().splitlines()[-1] == "make test"
    assert "make test " in (REPO / "README.md").read_text()
