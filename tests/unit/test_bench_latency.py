"""The pure statistics of bench/latency.py (bench/_latency_stats.py): percentiles, summaries, the protocol floor, batch lookup."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from types import ModuleType

import pytest

from local_services import REPO


@pytest.fixture(scope="module")
def lat() -> Iterator[ModuleType]:
    """bench/_latency_stats.py as a module (bench/ is a folder of scripts, not a package)."""
    name = "xmargin_bench_latency"
    spec = importlib.util.spec_from_file_location(name, REPO / "bench" / "_latency_stats.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses resolve their module by name
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[name]


def test_percentile_interpolates_between_closest_ranks(lat: ModuleType) -> None:
    values = [4.0, 1.0, 3.0, 2.0]  # unsorted on purpose
    assert lat.percentile(values, 0) == 1.0
    assert lat.percentile(values, 50) == 2.5
    assert lat.percentile(values, 90) == pytest.approx(3.7)
    assert lat.percentile(values, 100) == 4.0
    assert lat.percentile([7.0], 99) == 7.0


def test_percentile_refuses_empty_input_and_out_of_range_q(lat: ModuleType) -> None:
    with pytest.raises(ValueError):
        lat.percentile([], 50)
    with pytest.raises(ValueError):
        lat.percentile([1.0], 101)


def test_summary_of_one_to_hundred(lat: ModuleType) -> None:
    s = lat.summarize([float(v) for v in range(100, 0, -1)])
    assert (s.n, s.mean, s.p50, s.p90, s.p99, s.max) == (100, 50.5, 50.5, 90.1, 99.01, 100.0)


def test_protocol_floor_is_confirmations_of_source_blocks_plus_one_destination_block(lat: ModuleType) -> None:
    assert lat.protocol_floor(2, 1, 1) == lat.Floor(seconds=3, blocks=3)
    floor = lat.protocol_floor(12, 12, 2)  # e.g. a 12 s source chain, a 2 s hub
    assert (floor.seconds, floor.blocks) == (146, 73)
    with pytest.raises(ValueError):
        lat.protocol_floor(2, 0, 1)


def test_times_floor_divides_every_percentile(lat: ModuleType) -> None:
    s = lat.Summary(n=3, mean=5.0, p50=4.5, p90=6.0, p99=7.5, max=9.0)
    assert lat.times_floor(s, 3.0) == {"p50": 1.5, "p90": 2.0, "p99": 2.5, "max": 3.0}


def test_crediting_batch_is_the_first_whose_last_nonce_reaches_the_message(lat: ModuleType) -> None:
    last_nonces = [3, 4, 10]  # batches 1..3, 4, 5..10
    assert [lat.crediting_batch(n, last_nonces) for n in (1, 3, 4, 5, 10)] == [0, 0, 1, 2, 2]
    with pytest.raises(LookupError):
        lat.crediting_batch(11, last_nonces)


def test_last_block_at_or_before_a_timestamp(lat: ModuleType) -> None:
    stamps = {10: 100, 11: 101, 12: 101, 13: 103, 14: 104}  # two blocks in one second, a skipped second
    of = stamps.__getitem__
    assert lat.last_block_at_or_before(101, 10, 14, of) == 12
    assert lat.last_block_at_or_before(102, 10, 14, of) == 12
    assert lat.last_block_at_or_before(104, 10, 14, of) == 14
    assert lat.last_block_at_or_before(99, 10, 14, of) == 10  # none is: the range's start


def test_batch_figures_and_rate(lat: ModuleType) -> None:
    b = lat.batch_figures([100, 50, 150], [2_000_000, 1_000_000, 3_000_000], 300)
    assert (b.count, b.mean_size, b.gas_total, b.gas_per_message) == (3, 100.0, 6_000_000, 20_000.0)
    with pytest.raises(ValueError):
        lat.batch_figures([1, 2], [5], 3)
    assert lat.rate(300, 12.0) == 25.0
    assert lat.rate(300, 0) == 0.0
