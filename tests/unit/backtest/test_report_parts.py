"""Tearsheet pieces that need no run directory: the SVG kit and the shuffle-result readers."""

from __future__ import annotations

import numpy as np

from backtest.report import _shuffle_parts
from backtest.svg import Chart, histogram, nice_ticks


def test_both_shuffle_layouts_are_read() -> None:
    metric, real, null, p, _ = _shuffle_parts(
        {"metric": "sharpe", "real": 2.0, "shuffled": [0.1, -0.2], "p_value": 0.3}
    )
    assert (metric, real, null, p) == ("sharpe", 2.0, [0.1, -0.2], 0.3)
    block = {"real": {"return": 0.01}, "shuffled": [{"return": -0.002}, {"return": 0.004}], "p_value": 0.5}
    metric, real, null, p, extra = _shuffle_parts(
        {"block_shuffle": block, "signal_permutation": {"statistic": 0.03, "p_value": 0.02}}
    )
    assert (metric, real, null, p) == ("stitched return", 0.01, [-0.002, 0.004], 0.5)
    assert "0.02" in extra


def test_lines_break_at_nans_and_gaps() -> None:
    x = np.array([0.0, 1.0, 2.0, 10.0, 11.0, 12.0])
    y = np.array([1.0, np.nan, 2.0, 3.0, 4.0, 5.0])
    svg = Chart("t", xkind="num").line(x, y, max_gap=5.0).render()
    assert svg.count("<polyline") == 3  # [0], [2], [10, 11, 12]


def test_histogram_counts_and_marker() -> None:
    svg = histogram([0.0, 0.0, 1.0], "h", markers=[(2.0, "real")], bins=2)
    assert svg.count("<rect") == 1 + 2
    assert "real" in svg
    assert nice_ticks(0.0, 1.0, 5) == [0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
