"""Runs every benchmark of bench/ in turn (`make bench`); exit status 1 if any of them fails.
Add a benchmark by appending its script to BENCHMARKS. The crash stress test (bench/stress.py,
~20 min on two cores) runs only when asked: `python bench/run.py --stress [stress.py options]`, and
so does the soak under faults (bench/soak.py, ~15 min): `python bench/run.py --soak [soak.py options]`."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
BENCHMARKS = ["gas.py", "margin_gas.py", "latency.py", "throughput.py"]
OPT_IN = {"stress": "stress.py", "soak": "soak.py"}
"""Long benchmarks, run only with their flag."""


def main(argv: list[str] | None = None) -> int:
    """Runs each benchmark script with this interpreter, from the project root."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stress", action="store_true", help="also run bench/stress.py (~20 min)")
    parser.add_argument("--soak", action="store_true", help="also run bench/soak.py (~15 min)")
    args, extra = parser.parse_known_args(argv)
    runs = [[script] for script in BENCHMARKS]
    chosen = [name for name in OPT_IN if getattr(args, name)]
    if len(chosen) > 1 and extra:
        parser.error(f"options {' '.join(extra)} would go to both {' and '.join(chosen)}: run them one at a time")
    for name in chosen:
        runs.append([OPT_IN[name], *extra])  # remaining options go to the script (e.g. --accounts 50)
    if extra and not chosen:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    failed = []
    for script, *options in runs:
        print(f"==> bench/{script} {' '.join(options)}".rstrip(), flush=True)
        if subprocess.run([sys.executable, str(BENCH / script), *options], cwd=BENCH.parent, check=False).returncode:
            failed.append(script)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
