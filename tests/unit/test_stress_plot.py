"""bench/stress_plot.py: the per-event figure has its five panels (prices at every oracle push, open
interest, liquidations per hour, the insurance fund's balance, the LP vault's equity with the
auto-deleverages marked), counts liquidations per hour and states the fund's largest fall."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

import bench_modules  # noqa: F401

pytest.importorskip("matplotlib")
from stress_plot import Series, close, figure, fund_note, per_hour, redraw  # noqa: E402


def test_liquidations_counted_per_hour() -> None:
    assert per_hour([0.1, 0.9, 2.5, 9.0], 3) == [2, 0, 1, 0]


def series() -> Series:
    s = Series(liquidation_hours=[0.5, 1.5], adl_hours=[1.25, 1.25])
    for q in range(12):
        s.price(q / 4, 100 - q, 1000 - q)
    for h in range(3):
        s.record(h, 100 - h, 1000 - h, 1e6, 2e5 - 1_000 * h, 5e6)
    return s


def test_fund_note_states_the_largest_fall_as_a_share_of_open_interest() -> None:
    assert fund_note(series()) == ("balance at start $200,000; largest fall $2,000 = 0.20 % of OI at start "
                                   "(net of penalties paid in)")


def test_figure_has_five_panels_with_prices_at_every_push() -> None:
    fig = figure("test", series())
    try:
        assert len(fig.axes) == 5
        assert len(fig.axes[0].lines[0].get_xdata()) == 12  # every oracle push, not only the hourly reads
        assert fig.axes[2].get_ylabel() == "liquidations / h"
        assert fig.axes[3].get_ylabel() == "insurance fund $k"
        assert fig.axes[4].get_legend_handles_labels()[1] == ["LP vault equity", "auto-deleverage"]
    finally:
        close(fig)


def test_a_saved_series_is_redrawn_beside_it(tmp_path: Path) -> None:
    saved = tmp_path / "series-e-10x.json"
    saved.write_text(json.dumps({"title": "e, max leverage 10x, seed 1", **asdict(series())}))
    assert redraw(saved) == tmp_path / "e-10x.png" and (tmp_path / "e-10x.png").stat().st_size > 0
