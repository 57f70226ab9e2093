"""bench/run.py's closing table (bench/_targets.py): each benchmark's targets read back from the JSON
it wrote in this run, with met / not met; a JSON older than the run is no result."""

from __future__ import annotations

import json
import os
from pathlib import Path

import bench_modules  # noqa: F401  (puts bench/ on sys.path)
from _targets import rows_of, table


def _write(path: Path, data: object, mtime: float | None = None) -> None:
    path.write_text(json.dumps(data))
    if mtime is not None:
        os.utime(path, (mtime, mtime))


def test_each_benchmark_s_targets_are_read_with_their_verdict(tmp_path: Path) -> None:
    _write(tmp_path / "gas.json", {"budgets": [{"what": "hub deposit", "budget": 75_000, "measured": 73_246,
                                                "met": True}]})
    _write(tmp_path / "margin_gas.json", {
        "figures": {"liquidate": 575_611, "settle": 369_311, "settle: state floor": 264_631, "commit": 188_706,
                    "commit: state floor": 120_000},
        "targets": {"liquidate": 150_000, "settle": 200_000, "commit": 200_000}})
    _write(tmp_path / "throughput.json", {"phases": [
        {"rate": 50, "seconds": 30, "overhead_blocks": {"p99": 3}, "steady_credit_per_s": 52, "drain_s": 4.6},
        {"rate": 200, "seconds": 60, "overhead_blocks": {"p99": 21}, "steady_credit_per_s": 145.7, "drain_s": 15}]})
    _write(tmp_path / "keeper_scale.json", {"setup": {"accounts": 1000}, "targets": [
        {"what": "keeper: 100 liquidations within 3 hub blocks", "target": "<= 3 blocks", "measured": "38 blocks",
         "met": False}]})
    rows = [r for s in ("gas.py", "margin_gas.py", "throughput.py", "keeper_scale.py")
            for r in rows_of(s, 0.0, tmp_path)]
    verdicts = {r[0]: r[3] for r in rows}
    assert verdicts["gas: hub deposit"] == "met"
    assert verdicts["margin gas: liquidate"] == "NOT MET"
    assert verdicts["margin gas: settle"] == "NOT MET (state floor above it)"
    assert verdicts["margin gas: commit"] == "met"
    assert verdicts["throughput: p99 overhead at 50/s x 30 s"] == "NOT MET"
    assert verdicts["throughput: sustained at 200/s x 60 s, lag bounded"] == "NOT MET"
    assert verdicts["keeper: 100 liquidations within 3 hub blocks [1000 accounts]"] == "NOT MET"
    text = table(rows)
    assert "73,246" in text and "38 blocks" in text and "369,311 (state floor 264,631)" in text
    assert text.splitlines()[0].startswith("target")


def test_a_result_older_than_the_run_or_missing_is_no_result(tmp_path: Path) -> None:
    _write(tmp_path / "gas.json", {"budgets": []}, mtime=1_000.0)
    (stale,) = rows_of("gas.py", 2_000.0, tmp_path)
    (missing,) = rows_of("keeper_scale.py", 0.0, tmp_path)
    assert stale[3] == missing[3] == "no result"
    assert rows_of("soak.py", 0.0, tmp_path) == []  # no targets of its own in the table
