"""Runs every benchmark of bench/ in turn (`make bench`) and ends with a table of every target and
the figure this run measured (bench/_targets.py reads each benchmark's JSON); exit status 1 if any
of them fails. `--quick` runs each with its smallest options (QUICK) on a busy machine.
Add a benchmark by appending its script to BENCHMARKS (and its reader to bench/_targets.py). The
crash stress test (bench/stress.py, ~20 min on two cores) runs only when asked:
`python bench/run.py --stress [stress.py options]`, and so does the soak under faults (bench/soak.py,
~15 min): `python bench/run.py --soak [soak.py options]`."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from _targets import Row, rows_of, table  # noqa: E402

BENCHMARKS = ["gas.py", "margin_gas.py", "latency.py", "throughput.py", "keeper_scale.py"]
QUICK = {
    "latency.py": ["--deposits", "5", "--burst", "50", "--withdrawals", "2"],
    "throughput.py": ["--phases", "50x10,200x10"],
    "keeper_scale.py": ["--accounts", "1000"],
}
"""Each benchmark's smallest useful run (`--quick`): the figures are indicative only."""
OPT_IN = {"stress": "stress.py", "soak": "soak.py"}
"""Long benchmarks, run only with their flag."""


def main(argv: list[str] | None = None) -> int:
    """Runs each benchmark script with this interpreter, from the project root."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stress", action="store_true", help="also run bench/stress.py (~20 min)")
    parser.add_argument("--soak", action="store_true", help="also run bench/soak.py (~15 min)")
    parser.add_argument("--quick", action="store_true", help="each benchmark's smallest options (QUICK)")
    parser.add_argument("--only", default="", help="comma-separated scripts of BENCHMARKS to run (default: all)")
    args, extra = parser.parse_known_args(argv)
    only = [s for s in args.only.split(",") if s]
    unknown = [s for s in only if s not in BENCHMARKS]
    if unknown:
        parser.error(f"not in BENCHMARKS: {', '.join(unknown)}")
    runs = [[script, *(QUICK.get(script, []) if args.quick else [])] for script in BENCHMARKS
            if not only or script in only]
    chosen = [name for name in OPT_IN if getattr(args, name)]
    if len(chosen) > 1 and extra:
        parser.error(f"options {' '.join(extra)} would go to both {' and '.join(chosen)}: run them one at a time")
    for name in chosen:
        runs.append([OPT_IN[name], *extra])  # remaining options go to the script (e.g. --accounts 50)
    if extra and not chosen:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    failed = []
    rows: list[Row] = []
    for script, *options in runs:
        print(f"==> bench/{script} {' '.join(options)}".rstrip(), flush=True)
        started = time.time()
        if subprocess.run([sys.executable, str(BENCH / script), *options], cwd=BENCH.parent, check=False).returncode:
            failed.append(script)
        rows += rows_of(script, started)
    if rows:
        print("\n==> targets (measured by this run)" + (" [--quick: smallest options]" if args.quick else ""))
        print(table(rows), flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
