"""bench/stress_stats.py: seeds summarised; insurance sized leave-one-event-out."""

from __future__ import annotations

import pytest

import bench_modules  # noqa: F401
from stress_stats import RunFigures, in_sample_fund_share, leave_one_out, passes, summarise


def run(event: str, seed: int, oi: float, need: float, pen: float = 0.0, pending: float = 0.0) -> RunFigures:
    return RunFigures(event, seed, oi, need, pen, pending)


def test_summary_is_mean_and_worst() -> None:
    s = summarise([1.0, 3.0, 2.0])
    assert (s.mean, s.worst, s.n) == (2.0, 3.0, 3)
    with pytest.raises(ValueError):
        summarise([])


def test_held_out_event_is_tested_on_a_fund_sized_without_it() -> None:
    runs = [run("a", 1, 100, 1), run("a", 2, 100, 2), run("b", 1, 100, 0.5), run("c", 1, 200, 8)]
    ho = {h.event: h for h in leave_one_out(runs)}
    assert ho["c"].fund_share == pytest.approx(0.02)  # sized on a's worst seed
    assert ho["c"].beyond_worst_usd == pytest.approx(8 - 4)
    assert ho["a"].fund_share == pytest.approx(0.04) and ho["a"].beyond_worst_usd == 0
    assert not passes(list(ho.values()))
    assert in_sample_fund_share(runs) == pytest.approx(0.04)


def test_net_need_subtracts_penalties_and_pending_deficits_count() -> None:
    r = run("a", 1, 100, 3, pen=1, pending=2)
    assert (r.need_usd, r.net_need_usd) == (5, 4)
    runs = [r, run("b", 1, 100, 1, pen=1)]
    net = {h.event: h for h in leave_one_out(runs, net=True)}
    assert net["b"].fund_share == pytest.approx(0.04)
    assert passes(list(leave_one_out([run("a", 1, 100, 1), run("b", 1, 100, 1)])))


def test_leave_one_out_needs_two_events() -> None:
    with pytest.raises(ValueError):
        leave_one_out([run("a", 1, 100, 1)])


def test_a_buffer_multiplies_the_fund_and_the_cap_bounds_it() -> None:
    runs = [run("a", 1, 100, 1), run("b", 1, 100, 1.5)]
    bare = {h.event: h for h in leave_one_out(runs)}
    assert bare["b"].beyond_worst_usd == pytest.approx(0.5) and not passes(list(bare.values()))
    buffered = {h.event: h for h in leave_one_out(runs, buffer=2.0, cap=0.02)}
    assert buffered["b"].fund_share == pytest.approx(0.02) and buffered["b"].beyond_worst_usd == 0
    assert buffered["a"].fund_share == pytest.approx(0.02)  # 2 x 1.5 % capped at 2 %
    assert passes(list(buffered.values()))
    capped = {h.event: h for h in leave_one_out(runs, buffer=2.0, cap=0.012)}
    assert capped["b"].beyond_worst_usd == pytest.approx(0.3)
    with pytest.raises(ValueError, match="positive"):
        leave_one_out(runs, buffer=0)


def test_the_close_factor_probe_changes_only_the_close_factor() -> None:
    from argparse import Namespace

    from stress import liquidation_params

    from relayer.margin.params import LiquidationParams

    assert liquidation_params(Namespace(close_factor=None)) == LiquidationParams()
    probe = liquidation_params(Namespace(close_factor=1.0))
    deployed = LiquidationParams()
    assert probe.close_factor == 10**18 and probe.model_copy(update={"close_factor": deployed.close_factor}) == deployed
