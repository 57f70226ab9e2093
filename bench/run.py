"""Runs every benchmark of bench/ in turn (`make bench`); exit status 1 if any of them fails.
Add a benchmark by appending its script to BENCHMARKS."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
BENCHMARKS = ["gas.py", "latency.py"]


def main() -> int:
    """Runs each benchmark script with this interpreter, from the project root."""
    failed = []
    for script in BENCHMARKS:
        print(f"==> bench/{script}", flush=True)
        if subprocess.run([sys.executable, str(BENCH / script)], cwd=BENCH.parent, check=False).returncode:
            failed.append(script)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
