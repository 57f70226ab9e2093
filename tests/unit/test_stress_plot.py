"""bench/stress_plot.py: the per-event figure has its four panels (the last: insurance fund and
LP vault equity, auto-deleverages marked) and counts liquidations per hour."""

from __future__ import annotations

import pytest

import bench_modules  # noqa: F401

pytest.importorskip("matplotlib")
from stress_plot import Series, close, figure, per_hour  # noqa: E402


def test_liquidations_counted_per_hour() -> None:
    assert per_hour([0.1, 0.9, 2.5, 9.0], 3) == [2, 0, 1, 0]


def test_figure_has_four_panels() -> None:
    pytest.importorskip("matplotlib")
    s = Series(liquidation_hours=[0.5, 1.5], adl_hours=[1.25, 1.25])
    for h in range(3):
        s.record(h, 100 - h, 1000 - h, 1e6, 2e5, 5e6)
    fig = figure("test", s)
    try:
        assert len(fig.axes) == 4
        assert fig.axes[2].get_ylabel() == "liquidations / h"
        labels = fig.axes[3].get_legend_handles_labels()[1]
        assert labels == ["insurance fund", "LP vault equity", "auto-deleverage"]
    finally:
        close(fig)
