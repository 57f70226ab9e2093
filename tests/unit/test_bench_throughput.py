"""The pure helpers of bench/throughput.py (bench/_throughput_probe.py): per-deposit lag from
batches, the steady credit rate, the backlog, CPU deltas."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from types import ModuleType

import pytest

from local_services import REPO


@pytest.fixture(scope="module")
def probe() -> Iterator[ModuleType]:
    """bench/_throughput_probe.py as a module (bench/ is a folder of scripts, not a package)."""
    name = "xmargin_bench_throughput_probe"
    spec = importlib.util.spec_from_file_location(name, REPO / "bench" / "_throughput_probe.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[name]


def test_lag_is_source_block_to_the_hub_block_of_the_covering_batch(probe: ModuleType) -> None:
    deposits = [(1, 10), (2, 10), (3, 11), (4, 12)]
    batches = [(3, 4, 105), (1, 2, 103)]  # (first nonce, last nonce, hub block), any order
    lag = probe.lags(deposits, batches, lambda b: b * 1, lambda b: b - 90)
    assert lag == [103 - 90 - 10, 103 - 90 - 10, 105 - 90 - 11, 105 - 90 - 12]


def test_a_deposit_no_batch_applied_is_an_error(probe: ModuleType) -> None:
    with pytest.raises(ValueError, match="nonce 3"):
        probe.lags([(1, 1), (3, 1)], [(1, 2, 5)], lambda b: b, lambda b: b)


def test_steady_rate_leaves_out_the_warm_up(probe: ModuleType) -> None:
    points = [(0.0, 0, 0), (10.0, 1000, 200), (20.0, 2000, 1200), (30.0, 3000, 2200)]
    assert probe.steady_rate(points, 10.0, 30.0) == 100.0
    assert probe.steady_rate([], 10.0, 30.0) == 0.0
    assert probe.steady_rate(points, 30.0, 10.0) == 0.0


def test_backlog_is_the_largest_gap_between_sent_and_credited(probe: ModuleType) -> None:
    samples = probe.Samples()
    for t, sent, credited in [(0, 0, 0), (1, 100, 0), (2, 200, 150), (3, 200, 200)]:
        samples.add(t, sent, credited)
    assert samples.backlog_max() == 100


def test_cpu_seconds_of_this_process_grow_with_work(probe: ModuleType) -> None:
    import os

    before = probe.cpu_seconds({}, os.getpid())
    sum(i * i for i in range(2_000_000))
    after = probe.cpu_seconds({}, os.getpid())
    delta = probe.cpu_delta(before, after)
    assert delta["bench (load generator)"] > 0
    assert len(probe.load_avg()) == 3
