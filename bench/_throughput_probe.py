"""The measuring side of bench/throughput.py: CPU seconds per devnet process (where the time goes),
the machine's load, samples of the routes' processed nonces, and per-deposit lag from chain data.
Pure helpers (lag, steady rate) are unit-tested in tests/unit/test_bench_throughput.py."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _process_groups() -> dict[int, float]:
    """CPU seconds (user + system, children reaped included) per process group, over /proc."""
    out: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:  # the process exited meanwhile
            continue
        fields = text[text.rindex(")") + 2:].split()
        pgrp = int(fields[2])
        utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
        out[pgrp] = out.get(pgrp, 0.0) + (utime + stime + cutime + cstime) / CLOCK_TICKS
    return out


def cpu_seconds(groups: dict[str, int], own_pid: int | None = None) -> dict[str, float]:
    """CPU seconds so far of each named process group (devnet processes lead their own group),
    plus `bench` (this process) when `own_pid` is given."""
    by_group = _process_groups()
    out = {name: round(by_group.get(pgid, 0.0), 2) for name, pgid in groups.items()}
    if own_pid is not None:
        t = os.times()
        out["bench (load generator)"] = round(t.user + t.system, 2)
    return out


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds each process used between two readings, busiest first."""
    deltas = {k: round(after[k] - before.get(k, 0.0), 2) for k in after}
    return dict(sorted(deltas.items(), key=lambda kv: -kv[1]))


def load_avg() -> list[float]:
    """The machine's 1, 5 and 15-minute load averages (/proc/loadavg)."""
    return [round(v, 2) for v in os.getloadavg()]


@dataclass
class Samples:
    """(seconds since the phase began, deposits sent, deposits credited) over a phase."""

    points: list[tuple[float, int, int]] = field(default_factory=list)

    def add(self, t: float, sent: int, credited: int) -> None:
        """One observation."""
        self.points.append((round(t, 3), sent, credited))

    def backlog_max(self) -> int:
        """Largest number of sent deposits not yet credited at any sample."""
        return max((s - c for _, s, c in self.points), default=0)


def steady_rate(points: Sequence[tuple[float, int, int]], start_s: float, end_s: float) -> float:
    """Deposits credited per second between the samples nearest `start_s` and `end_s` (the warm-up
    of the pipeline, before `start_s`, is left out)."""
    if not points:
        return 0.0
    first = min(points, key=lambda p: abs(p[0] - start_s))
    last = min(points, key=lambda p: abs(p[0] - end_s))
    if last[0] <= first[0]:
        return 0.0
    return round((last[2] - first[2]) / (last[0] - first[0]), 1)


def lags(
    deposits: Sequence[tuple[int, int]],
    batches: Sequence[tuple[int, int, int]],
    source_ts: Callable[[int], int],
    dest_ts: Callable[[int], int],
) -> list[int]:
    """Seconds from each deposit's source block to the hub block of the batch that applied it.
    `deposits` are (nonce, source block); `batches` (first nonce, last nonce, hub block)."""
    ordered = sorted(batches, key=lambda b: b[1])
    out = []
    k = 0
    for nonce, block in sorted(deposits):
        while k < len(ordered) and ordered[k][1] < nonce:
            k += 1
        if k == len(ordered) or ordered[k][0] > nonce:
            raise ValueError(f"nonce {nonce} was applied by no batch seen")
        out.append(dest_ts(ordered[k][2]) - source_ts(block))
    return out
