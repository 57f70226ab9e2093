#!/usr/bin/env python3
"""Run slither over every contract and fail on any high or medium finding not suppressed inline.

Standard library only: it runs under .venv-slither's Python (slither's pins clash with brownie's).
Slither analyses a folder as the `.sol` files directly in it plus what they import, so the targets
are chosen from the import graph: `contracts/` first, then every folder holding a contract that no
earlier target reaches. Test doubles (contracts/test) and node_modules are left out.

A finding is suppressed only by slither's own inline comment, and the comment must say why:
    // slither-disable-next-line <detector>[,<detector>] <reason on the same line>
or with the reason as a `//` comment on the line above it.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONTRACTS = Path("contracts")
EXCLUDED = (CONTRACTS / "test",)
"""Test doubles: deliberately broken tokens and receivers, never deployed."""
FILTER_PATHS = "node_modules|contracts/test"
SOLC = Path("tools/solc/solc-v0.8.37")
REMAPS = "@openzeppelin=node_modules/@openzeppelin"
BLOCKING = ("High", "Medium")
IMPACT_ORDER = ("High", "Medium", "Low", "Informational", "Optimization")

IMPORT_RE = re.compile(r"""^\s*import\s+(?:[^"';]*?\sfrom\s+)?["']([^"']+)["']""", re.MULTILINE)
DISABLE_RE = re.compile(r"//\s*slither-disable-(?:next-line|start|end)\b\s*([A-Za-z0-9_,-]*)(.*)$")


@dataclass(frozen=True)
class Finding:
    """One slither result, reduced to what a reviewer needs."""

    check: str
    impact: str
    confidence: str
    location: str
    """`file:line` of the first element (the function or variable slither points at)."""
    description: str
    id: str


@dataclass(frozen=True)
class BadSuppression:
    """A slither-disable comment that gives no reason."""

    location: str
    text: str


def contract_files(root: Path) -> list[Path]:
    """Every `.sol` file under contracts/ (relative to root) except the excluded folders."""
    files = sorted(p.relative_to(root) for p in (root / CONTRACTS).rglob("*.sol"))
    return [f for f in files if not any(f.is_relative_to(ex) for ex in EXCLUDED)]


def imports_of(root: Path, file: Path) -> set[Path]:
    """Project files imported by `file` (relative imports only; remapped packages are not ours)."""
    found = set()
    for target in IMPORT_RE.findall((root / file).read_text()):
        if target.startswith("."):
            found.add(Path(_normalise(file.parent / target)))
    return found


def _normalise(path: Path) -> str:
    """Resolve `.` and `..` without touching the file system (the path is repo-relative)."""
    parts: list[str] = []
    for part in path.parts:
        if part == "..":
            parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts)


def closure(root: Path, start: set[Path]) -> set[Path]:
    """`start` and everything it imports, transitively."""
    seen: set[Path] = set()
    todo = list(start)
    while todo:
        file = todo.pop()
        if file in seen:
            continue
        seen.add(file)
        todo.extend(imports_of(root, file) - seen)
    return seen


def choose_targets(root: Path) -> list[Path]:
    """Folders to run slither on, so that together they reach every contract file.

    contracts/ first, then greedily the folder whose contracts reach most of what is still
    uncovered (contracts/margin before contracts/interfaces, whose files margin imports).
    """
    files = set(contract_files(root))
    reach = {folder: closure(root, {f for f in files if f.parent == folder}) for folder in {f.parent for f in files}}
    targets = [CONTRACTS] if CONTRACTS in reach else []
    covered = set(reach.get(CONTRACTS, set()))
    while not files <= covered:
        best = max(sorted(reach), key=lambda folder: len(reach[folder] - covered))
        targets.append(best)
        covered |= reach[best]
    return targets


def slither_command(slither: Path, target: Path, out: Path) -> list[str]:
    """The invocation that works with the solcjs shim (tools/solc): standard JSON, remapped OZ."""
    return [
        str(slither), str(target),
        "--compile-force-framework", "solc",
        "--solc", str(SOLC),
        "--solc-standard-json",
        "--solc-remaps", REMAPS,
        "--filter-paths", FILTER_PATHS,
        "--fail-none",
        "--json", str(out),
    ]


def findings_of(report: dict) -> list[Finding]:
    """The detector results of one slither JSON report; raises if slither itself failed."""
    if not report.get("success"):
        raise RuntimeError(f"slither failed: {report.get('error')}")
    results = []
    for r in report.get("results", {}).get("detectors", []):
        mapping = next((e["source_mapping"] for e in r["elements"] if e.get("source_mapping", {}).get("lines")), None)
        location = f"{mapping['filename_relative']}:{mapping['lines'][0]}" if mapping else "?"
        results.append(
            Finding(
                check=r["check"],
                impact=r["impact"],
                confidence=r["confidence"],
                location=location,
                description=r["description"].splitlines()[0],
                id=r["id"],
            )
        )
    return results


def merge(reports: list[list[Finding]]) -> list[Finding]:
    """Findings of several runs, each once (files imported by two targets are reported twice)."""
    unique = {f.id: f for run in reports for f in run}
    return sorted(unique.values(), key=lambda f: (IMPACT_ORDER.index(f.impact), f.check, f.location))


def blocking(findings: list[Finding]) -> list[Finding]:
    """High and medium findings: each must be fixed or suppressed inline with a reason."""
    return [f for f in findings if f.impact in BLOCKING]


def bad_suppressions(root: Path) -> list[BadSuppression]:
    """slither-disable comments with no reason, neither after the detectors nor on the line above."""
    bad = []
    for file in contract_files(root):
        lines = (root / file).read_text().splitlines()
        for index, line in enumerate(lines):
            match = DISABLE_RE.search(line)
            if not match or "slither-disable-end" in line:
                continue
            reason_here = match.group(2).strip(" -:—()")
            above = lines[index - 1].strip() if index else ""
            reason_above = above.startswith("//") and "slither-disable" not in above and len(above) > 2
            if not match.group(1) or not (reason_here or reason_above):
                bad.append(BadSuppression(location=f"{file}:{index + 1}", text=line.strip()))
    return bad


def run(root: Path, slither: Path, reports: Path) -> tuple[list[Finding], dict[str, float]]:
    """Run slither over each target; JSON reports in `reports`; findings merged, seconds per target."""
    reports.mkdir(parents=True, exist_ok=True)
    runs, timings = [], {}
    for target in choose_targets(root):
        slug = "-".join(target.parts)
        out = reports / f"slither-{slug}.json"
        out.unlink(missing_ok=True)
        started = time.monotonic()
        proc = subprocess.run(slither_command(slither, target, out), cwd=root, capture_output=True, text=True)
        timings[str(target)] = time.monotonic() - started
        if not out.exists():
            sys.stderr.write(proc.stdout + proc.stderr)
            raise RuntimeError(f"slither wrote no report for {target} (exit {proc.returncode})")
        runs.append(findings_of(json.loads(out.read_text())))
    return merge(runs), timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slither", type=Path, default=REPO / ".venv-slither/bin/slither")
    parser.add_argument("--reports", type=Path, default=REPO / "reports")
    args = parser.parse_args(argv)

    started = time.monotonic()
    if not args.slither.exists():
        print(f"{args.slither} not found: `make slither` installs it (requirements/slither.txt)")
        return 2
    try:
        findings, timings = run(REPO, args.slither, args.reports)
    except RuntimeError as err:
        print(f"slither could not analyse the contracts: {err}")
        return 2
    for target, seconds in timings.items():
        print(f"slither {target}: {seconds:.1f} s")
    counts = Counter(f.impact for f in findings)
    print("findings: " + ", ".join(f"{impact} {counts.get(impact, 0)}" for impact in IMPACT_ORDER))
    (args.reports / "slither-summary.json").write_text(
        json.dumps(
            {"seconds": timings, "counts": dict(counts), "findings": [f.__dict__ for f in findings]}, indent=2
        )
    )

    failures = blocking(findings)
    for f in failures:
        print(f"  {f.impact:<6} {f.check:<24} {f.location:<44} {f.description}")
    unexplained = bad_suppressions(REPO)
    for s in unexplained:
        print(f"  suppression without a reason at {s.location}: {s.text}")
    print(f"total {time.monotonic() - started:.1f} s; reports in {args.reports}")
    if failures or unexplained:
        print(
            f"FAIL: {len(failures)} high/medium finding(s) and {len(unexplained)} unexplained suppression(s). "
            "Fix each, or suppress it with `// slither-disable-next-line <detector> <reason>`."
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
