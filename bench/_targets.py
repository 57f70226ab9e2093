"""The closing table of `make bench` (bench/run.py): every target of the benchmarks with the figure
the run measured, read back from each benchmark's JSON under bench/results (only a file written by
this run counts: a stale one from an earlier run is reported as no result)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
Row = tuple[str, str, str, str]
"""(target, its bound, measured, met / not met / no target / no result)."""


def _met(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def gas_rows(data: dict[str, Any]) -> list[Row]:
    """bench/gas.py's budgets."""
    return [(f"gas: {b['what']}", f"<= {b['budget']:,}", f"{b['measured']:,}", _met(b["met"]))
            for b in data.get("budgets", [])]


FLOOR_OF = ": state floor"
"""Suffix of a bench/margin_gas_steady.py row's state floor: the state the measured transaction
touched (bench/gas_floor.py: storage, events, contracts touched, intrinsic), what any code over the
same state pays."""


def margin_rows(data: dict[str, Any]) -> list[Row]:
    """bench/margin_gas.py's targets (a figure at or below its target meets it); a row measured with
    its state floor shows it, and says when the floor alone is above the target."""
    figures = data.get("figures", {})
    rows = []
    for name, target in data.get("targets", {}).items():
        value = figures.get(name)
        floor = figures.get(name + FLOOR_OF)
        if value is None:
            rows.append((f"margin gas: {name}", f"<= {target:,}", "not measured", "no result"))
        elif floor is None:
            rows.append((f"margin gas: {name}", f"<= {target:,}", f"{value:,}", _met(value <= target)))
        else:
            verdict = _met(value <= target) + (" (state floor above it)" if floor > target else "")
            rows.append((f"margin gas: {name}", f"<= {target:,}", f"{value:,} (state floor {floor:,})", verdict))
    return rows


def latency_rows(data: dict[str, Any]) -> list[Row]:
    """bench/latency.py: no target of its own (the 50/s overhead target is throughput's); shown
    against the protocol floor."""
    rows = []
    for part in ("deposits", "withdrawals"):
        r = data.get(part)
        if r:
            rows.append((f"latency: single {part} p50 / p90 (floor {r['floor']['seconds']:g} s)", "none",
                         f"{r['chain_s']['p50']:g} / {r['chain_s']['p90']:g} s", "no target"))
    burst = data.get("burst")
    if burst:
        rows.append((f"latency: burst of {burst['deposits']} deposits credited", "none",
                     f"{burst['deposits_per_s']:g} deposits/s", "no target"))
    return rows


def throughput_rows(data: dict[str, Any]) -> list[Row]:
    """bench/throughput.py's two targets, per phase that measures one."""
    rows = []
    for p in data.get("phases", []):
        if p["rate"] >= 200:
            rows.append((f"throughput: sustained at {p['rate']}/s x {p['seconds']} s, lag bounded",
                         ">= 200/s, drain <= 10 s", f"{p['steady_credit_per_s']:g}/s, drain {p['drain_s']:g} s",
                         _met(p["steady_credit_per_s"] >= 200 and p["drain_s"] <= 10)))
        if p["rate"] == 50:
            p99 = p["overhead_blocks"]["p99"]
            rows.append((f"throughput: p99 overhead at 50/s x {p['seconds']} s", "<= 2 hub blocks",
                         f"{p99:g} blocks", _met(p99 <= 2)))
    return rows


def keeper_rows(data: dict[str, Any]) -> list[Row]:
    """bench/keeper_scale.py's targets (it writes them with the verdict)."""
    accounts = data.get("setup", {}).get("accounts", "?")
    return [(f"{t['what']} [{accounts} accounts]", t["target"], t["measured"], _met(t["met"]))
            for t in data.get("targets", [])]


READERS = {
    "gas.py": ("gas.json", gas_rows),
    "margin_gas.py": ("margin_gas.json", margin_rows),
    "latency.py": ("latency.json", latency_rows),
    "throughput.py": ("throughput.json", throughput_rows),
    "keeper_scale.py": ("keeper_scale.json", keeper_rows),
}


def rows_of(script: str, since: float, results: Path = RESULTS) -> list[Row]:
    """The rows of one benchmark's JSON written at or after `since` (epoch seconds)."""
    if script not in READERS:
        return []
    name, reader = READERS[script]
    path = results / name
    if not path.exists() or path.stat().st_mtime < since:
        return [(f"bench/{script}", "", "no result (it failed or did not run)", "no result")]
    try:
        return reader(json.loads(path.read_text()))
    except (KeyError, TypeError, ValueError) as err:
        return [(f"bench/{script}", "", f"unreadable result: {err}", "no result")]


def table(rows: list[Row]) -> str:
    """The rows as a fixed-width table."""
    head: Row = ("target", "bound", "measured", "verdict")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [head, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
