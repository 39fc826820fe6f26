from __future__ import annotations

import numpy as np
import pytest

from backtest.yardstick import YardstickConfig, max_drawdown, run, trades, zscores

# 2019-01-07 (a Monday) 09:00 UTC
T0 = 1_546_851_600_000
MIN = 60_000
CFG = YardstickConfig(window=3, z_entry=1.0, hold=2, cost_pips=0.8, max_gap_min=30)


def _bars() -> dict[str, np.ndarray]:
    close = np.array([1.0000, 1.0000, 1.0006, 1.0004, 1.0001, 1.0001, 0.9995, 0.9993, 1.0, 1.0, 1.0])
    minutes = np.r_[np.arange(8), 8 + 60 + np.arange(3)]  # a 61-minute gap after bar 7
    return {"pair": np.full(len(close), "GBPUSD"), "ts": T0 + minutes * MIN, "close": close}


def test_zscore_by_hand() -> None:
    bars = _bars()
    seg = np.r_[np.zeros(8), np.ones(3)].astype(np.int64)
    z = zscores(bars["close"], seg, 3)
    # Bar 2: window (1, 1, 1.0006): mean 1.0002, std sqrt((2 * 0.0002**2 + 0.0004**2) / 3) = 0.0002 * sqrt(2).
    assert z[2] == pytest.approx(0.0004 / (0.0002 * np.sqrt(2)), rel=1e-6)
    # Bar 6: window (1.0001, 1.0001, 0.9995): mean 0.9999 -> z = -sqrt(2).
    assert z[6] == pytest.approx(-np.sqrt(2), rel=1e-6)
    assert np.isnan(z[:2]).all()
    assert np.isnan(z[8:]).all()  # new segment: two bars too few, then a flat window (std 0)


def test_trades_by_hand() -> None:
    t = trades(_bars(), CFG)
    # Short at bar 2 (z = +1.41) at 1.0006, exit 2 bars later at bar 4 (1.0001): +5 pips gross.
    # Long at bar 6 (z = -1.41) at 0.9995; the hold would end at bar 8, but a gap follows bar 7:
    # exit at bar 7 (0.9993): -2 pips gross. Bars 3-4 are in a position; bar 5 has |z| = 0.71.
    assert t["side"].tolist() == [-1, 1]
    assert t["entry_ts"].tolist() == [T0 + 2 * MIN, T0 + 6 * MIN]
    assert t["exit_ts"].tolist() == [T0 + 4 * MIN, T0 + 7 * MIN]
    np.testing.assert_allclose(t["gross_pips"], [5.0, -2.0], atol=1e-9)
    np.testing.assert_allclose(t["net_pips"], [4.2, -2.8], atol=1e-9)
    np.testing.assert_allclose(t["gross"], [0.0005 / 1.0006, -0.0002 / 0.9995], rtol=1e-9)
    np.testing.assert_allclose(t["cost"], [0.00008 / 1.0006, 0.00008 / 0.9995], rtol=1e-9)


def test_summary_by_hand() -> None:
    row = run({"GBPUSD": _bars()}, CFG).iloc[0]
    net = np.array([0.00042 / 1.0006, -0.00028 / 0.9995])
    assert row["round_trips"] == 2
    assert row["per_month"] == 2.0
    assert row["net_pct"] == pytest.approx(100 * net.sum())
    assert row["costs_pct"] == pytest.approx(100 * (0.00008 / 1.0006 + 0.00008 / 0.9995))
    # Both trades close on one day: one daily return, no drawdown within the day's sum.
    assert row["max_dd_pct"] == 0.0
    assert np.isnan(row["sharpe"])  # one day: no standard deviation


def test_max_drawdown() -> None:
    # cumulative: 0, 1, 3, 0, 1, -1 -> peak 3, trough -1: drawdown 4.
    assert max_drawdown(np.array([1.0, 2.0, -3.0, 1.0, -2.0])) == 4.0
    assert max_drawdown(np.array([1.0, 1.0])) == 0.0
