"""bench/ is a folder of scripts, not a package: the stress tests import its pure modules by path."""

from __future__ import annotations

import sys

from local_services import REPO

BENCH = str(REPO / "bench")
if BENCH not in sys.path:
    sys.path.insert(0, BENCH)
