from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from backtest.crisis import crisis_weeks, fx_week

# Sunday 2019-01-06 22:00 UTC: the FX week opens; its week starts that Sunday 12:00 UTC.
SUN = 1_546_812_000_000
WEEK = 7 * 86_400_000
MIN = 60_000


def test_fx_week_starts_sunday_noon() -> None:
    noon = SUN - 10 * 3_600_000
    assert fx_week(np.array([SUN, SUN + 5 * 86_400_000, noon - 1])).tolist() == [noon, noon, noon - WEEK]


def _frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    closes = {0: [1.0, 1.001, 1.0, 1.001], 1: [1.0, 1.0001, 1.0, 1.0001], 2: [1.0, 1.00001, 1.0, 1.00001]}
    rows = []
    for w, cs in closes.items():
        for i, c in enumerate(cs):
            rows.append(("GBPUSD", SUN + w * WEEK + i * MIN, c, i != 0, i in (1, 2)))
    bars = pd.DataFrame(rows, columns=["pair", "ts", "close", "tradeable", "in_market"])
    trips = pd.DataFrame(
        {
            "pair": "GBPUSD",
            "entry_ts": [SUN, SUN + 2 * MIN, SUN + WEEK],
            "exit_ts": [SUN + MIN, SUN + WEEK + MIN, SUN + WEEK + 2 * MIN],
            "net": [0.01, -0.02, 0.005],
        }
    )
    return bars, trips


def test_crisis_weeks_by_hand() -> None:
    bars, trips = _frames()
    t = crisis_weeks(bars, trips, top=1, min_bars=1)
    assert t["kind"].tolist() == ["top", "median"]
    assert t["week"].tolist() == [dt.date(2019, 1, 6), dt.date(2019, 1, 13)]
    # Week 1 returns r, -r, r with r = ln(1.001): sample std = r * sqrt(4/3).
    r = np.log(1.001)
    assert t["vol_bp"].iloc[0] == pytest.approx(1e4 * r * np.sqrt(4 / 3))
    assert t["vol_ratio"].iloc[0] == pytest.approx(np.log(1.001) / np.log(1.0001), rel=1e-3)
    assert t["tradeable_share"].tolist() == [0.75, 0.75]
    assert t["time_in_market"].tolist() == [0.5, 0.5]
    # Trips count in the week of their exit: one in week 1 (+1 %), two in week 2 (-2 % + 0.5 %).
    assert t["round_trips"].tolist() == [1, 2]
    np.testing.assert_allclose(t["pnl_pct"], [1.0, -1.5])


def test_returns_across_gaps_are_left_out() -> None:
    bars, trips = _frames()
    bars.loc[2, "ts"] += 5 * MIN  # the third bar of week 1 comes after a gap: r2 and r3 are dropped
    bars.loc[3, "ts"] += 5 * MIN
    t = crisis_weeks(bars, trips, top=3, min_bars=1)
    # Week 1 keeps r1 and r3 (r3 = ln(1.001) follows its bar by one minute): std of (r, r) = 0, so it
    # becomes the calmest week.
    top = t[t["kind"] == "top"]
    assert top["week"].tolist() == [dt.date(2019, 1, 13), dt.date(2019, 1, 20), dt.date(2019, 1, 6)]
    assert top["vol_bp"].iloc[2] == pytest.approx(0.0, abs=1e-9)


def test_pipeline_frames_from_replay_outputs() -> None:
    from backtest.crisis import pipeline_frames

    ts = SUN + np.arange(6) * MIN
    bars = {"pair": np.full(6, "GBPUSD"), "ts": ts, "close": np.linspace(1.3, 1.3005, 6)}
    signals = {"pair": np.full(5, "GBPUSD"), "ts": ts[:5], "tradeable": np.array([1, 1, 0, 1, 1], dtype=bool)}
    n = 6
    portfolio = {
        "pair": np.r_[np.full(n, "GBPUSD"), [""]],  # the account row (pair "") is ignored
        "ts": np.r_[ts, ts[-1]],
        "position_units": np.array([0, 1000, 1000, 0, -500, -500, 0], dtype=float),
        "realized_pnl_usd": np.array([0, 0, 0, 5, 5, 5, 99], dtype=float),
        "unrealized_pnl_usd": np.array([0, 1, 2, 0, -1, -2, 99], dtype=float),
    }
    frame, trips = pipeline_frames(bars, {"signals.governed": signals, "portfolio": portfolio}, 1000.0)
    # The bar at ts[5] has no signal: not tradeable.
    assert frame["tradeable"].tolist() == [True, True, False, True, True, False]
    assert frame["in_market"].tolist() == [False, True, True, False, True, True]
    # One round trip: opened at ts[1], flat at ts[3]; PnL 5 USD (realised 5 + unrealised 0 - 0) / 1000.
    # The short opened at ts[4] is still open at the end: not a round trip.
    assert trips["entry_ts"].tolist() == [ts[1]]
    assert trips["exit_ts"].tolist() == [ts[3]]
    assert trips["net"].tolist() == [0.005]
    assert trips["pair"].tolist() == ["GBPUSD"]
