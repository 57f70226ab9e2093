"""The relayer's layers hold: no module imports a higher layer (lazy imports inside functions count
too), validator, submitter and keeper never import one another, proofs and the margin mirror do no
I/O, and what the brownie environment loads needs nothing it lacks. docs/architecture.md draws the
same table."""

from __future__ import annotations

import ast
import os
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "relayer"

LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("errors, logs", ("relayer.errors", "relayer.logs")),
    ("types", ("relayer.types", "relayer._pydantic")),
    ("config", ("relayer.deployment", "relayer.config")),
    ("pure logic", ("relayer.proofs", "relayer.margin")),
    ("chain", ("relayer.chain",)),
    ("store", ("relayer.store",)),
    ("roles", ("relayer.validator", "relayer.submitter", "relayer.keeper")),
    ("context", ("relayer.context",)),
    ("services", ("relayer.services",)),
    ("worker", ("relayer.worker",)),
    ("api", ("relayer.api",)),
    ("sdk", ("relayer.sdk",)),
    ("devnet, deploy", ("relayer.devnet", "relayer.deploy")),
    ("cli", ("relayer.cli", "relayer._cli", "relayer.cli_margin", "relayer.cli_vault", "relayer.cli_deploy",
             "relayer.cli_withdrawals", "relayer.cli_validator")),
]
"""Lowest first. A module may import its own layer and the ones below it, never one above."""
INDEPENDENT = [("relayer.validator", "relayer.submitter", "relayer.keeper"), ("relayer.proofs", "relayer.margin")]
"""Packages of one layer that never import one another."""
IO_LIBRARIES = {"web3", "requests", "urllib", "urllib3", "http", "socket", "redis", "celery", "sqlite3",
                "subprocess", "fastapi", "uvicorn", "os", "pathlib"}
PURE = ("relayer.proofs", "relayer.margin")
BROWNIE_MODULES = ("relayer.keeper.liquidator", "relayer.keeper.deleverager", "relayer.keeper.tracker",
                   "relayer.keeper.pusher", "relayer.chain.abi", "relayer.margin",
                   "relayer.proofs.checkpoint", "relayer.proofs.hashchain", "relayer.proofs.price_report")
"""What the stress bench and the contract tests import under .venv-brownie."""
NOT_IN_BROWNIE = {"pydantic_settings", "redis", "celery", "fastapi", "uvicorn", "typer", "rich", "trie",
                  "prometheus_client"}
"""Runtime libraries the brownie environment does not have (its pins clash with them)."""


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    """`if TYPE_CHECKING:` (or `typing.TYPE_CHECKING`)."""
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


@cache
def _imports() -> dict[str, tuple[set[str], set[str]]]:
    """module -> (relayer modules it imports, top-level external packages it imports)."""
    out: dict[str, tuple[set[str], set[str]]] = {}
    for path in PACKAGE.rglob("*.py"):
        inner: set[str] = set()
        outer: set[str] = set()
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and _is_type_checking(node.test):
                node.body = []  # annotation-only imports create no runtime dependency
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
                if node.module == "relayer":
                    names = [f"relayer.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                (inner if name.split(".")[0] == "relayer" else outer).add(name)
        out[_module_name(path)] = (inner, {name.split(".")[0] for name in outer})
    return out


def _layer(module: str) -> int:
    for index, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return index
    raise AssertionError(f"{module} is in no layer: add it to LAYERS (and to docs/architecture.md)")


def _owner(module: str, packages: tuple[str, ...]) -> str | None:
    return next((p for p in packages if module == p or module.startswith(p + ".")), None)


def test_every_module_belongs_to_a_layer() -> None:
    for module in _imports():
        if module != "relayer":
            _layer(module)


def test_no_module_imports_a_higher_layer() -> None:
    upward = [
        f"{module} ({LAYERS[_layer(module)][0]}) imports {target} ({LAYERS[_layer(target)][0]})"
        for module, (inner, _) in _imports().items() if module != "relayer"
        for target in inner if target != "relayer" and _layer(target) > _layer(module)
    ]
    assert upward == []


def test_sibling_packages_of_a_layer_never_import_each_other() -> None:
    crossing = []
    for packages in INDEPENDENT:
        for module, (inner, _) in _imports().items():
            mine = _owner(module, packages)
            for target in inner:
                theirs = _owner(target, packages)
                if mine and theirs and mine != theirs:
                    crossing.append(f"{module} imports {target}")
    assert crossing == []


def test_proofs_and_the_margin_mirror_do_no_io() -> None:
    found = {module: sorted(outer & IO_LIBRARIES) for module, (_, outer) in _imports().items()
             if _owner(module, PURE) and outer & IO_LIBRARIES}
    assert found == {}


def _closure(roots: tuple[str, ...]) -> Iterator[str]:
    """Every relayer module reached from `roots`, the roots included (packages count as their __init__)."""
    known = _imports()
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        module = todo.pop()
        if module in seen or module not in known:
            continue
        seen.add(module)
        yield module
        parts = module.split(".")
        todo.extend(".".join(parts[:i]) for i in range(2, len(parts)))  # parent packages run first
        todo.extend(known[module][0])


def test_what_the_brownie_environment_loads_needs_only_what_it_has() -> None:
    needs = {module: sorted(_imports()[module][1] & NOT_IN_BROWNIE) for module in _closure(BROWNIE_MODULES)}
    assert {m: n for m, n in needs.items() if n} == {}


@pytest.mark.skipif(not (REPO / ".venv-brownie" / "bin" / "python").exists(), reason="no .venv-brownie (make setup)")
def test_the_keeper_imports_under_the_brownie_environment() -> None:
    code = "import " + ", ".join(BROWNIE_MODULES)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([str(REPO / ".venv-brownie" / "bin" / "python"), "-c", code], capture_output=True,
                          text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
