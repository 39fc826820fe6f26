"""Tearsheet views computed from run files: stitched figures, waterfall, regime aggregation, trading days."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from backtest import stats
from backtest.report_timeline import _merge_days, _weekly, daily_from_hourly, regime_chart
from backtest.report_views import stitched_figures, summary_cards
from backtest.waterfall import add_waterfalls, first_gate_counts, fx_day, regime_daily
from streams.core.batch import Batch

DAY = 86_400_000
HOUR = 3_600_000
MON = 1_578_268_800_000  # Monday 2020-01-06 00:00 UTC


def test_fx_day_rolls_at_five_pm_new_york() -> None:
    sunday_open = MON - 2 * HOUR  # Sunday 22:00 UTC = 17:00 New York (winter)
    friday_close = MON + 4 * DAY + 21 * HOUR + 59 * 60_000  # Friday 21:59 UTC = 16:59 New York
    days = fx_day(np.array([sunday_open, MON + 12 * HOUR, friday_close]))
    assert days.tolist() == [MON // DAY, MON // DAY, MON // DAY + 4]
    saturday = fx_day(np.array([MON + 4 * DAY + 22 * HOUR + 30 * 60_000]))  # 17:30 NY Friday
    assert saturday.tolist() == [MON // DAY + 4]
    july_sunday = 1_594_591_200_000  # Sunday 2020-07-12 22:00 UTC; summer: 17:00 NY is 21:00 UTC
    assert fx_day(np.array([july_sunday - HOUR, july_sunday - HOUR - 1])).tolist() == [
        july_sunday // DAY + 1,
        july_sunday // DAY,
    ]


def test_first_gate_counts_add_up_and_waterfalls_sum() -> None:
    labels = np.array(["", "warmup,regime", "regime", "cost,win_prob", "", "cost"])
    c = first_gate_counts(labels)
    assert (c["passed"], c["warmup"], c["regime"], c["cost"], c["win_prob"]) == (2, 1, 1, 2, 0)
    assert sum(c.values()) == len(labels)
    a = {
        "bars": 6,
        "blocked": {"cost": 2},
        "passed": 2,
        "entry_orders": 3,
        "round_trips": 1,
        "risk": {"utility": 1},
    }
    b = {"bars": 4, "blocked": {"cost": 1}, "passed": 1, "entry_orders": 1, "round_trips": None}
    w = add_waterfalls([a, b])
    assert (w["bars"], w["blocked"]["cost"], w["passed"], w["entry_orders"]) == (10, 3, 3, 4)
    assert w["round_trips"] is None
    assert w["risk"] == {"utility": 1}


def test_regime_daily_shares_and_bar_weighted_weeks() -> None:
    ts = np.array([MON, MON + 60_000, MON + 120_000, MON + DAY, MON + 7 * DAY])
    sig = Batch(
        {
            "ts": ts,
            "regime": np.array(["Stable_Flow", "Event_Risk", "", "Directional_Vol", "Stable_Flow"]),
            "tradeable": np.array([True, False, False, False, True]),
        }
    )
    d = regime_daily(sig)
    assert d["bars"] == [3, 1, 1]
    assert d["Stable_Flow"] == pytest.approx([1 / 3, 0.0, 1.0])
    assert d["Event_Risk"][0] == pytest.approx(1 / 3)
    w = _weekly({k: np.asarray(v) for k, v in d.items()})
    # week 1: 4 bars (3 on Monday, 1 on Tuesday): Stable_Flow 1 of 4, Directional 1 of 4
    assert w["Stable_Flow"] == pytest.approx([0.25, 1.0])
    assert w["Directional_Vol"] == pytest.approx([0.25, 0.0])
    assert w["day"].tolist() == [MON // DAY, MON // DAY + 7]


def test_a_day_split_by_a_fold_boundary_is_one_column(tmp_path: Path) -> None:
    day = MON // DAY
    part = {"bars": [], "Stable_Flow": [], "Directional_Vol": [], "Event_Risk": [], "tradeable": []}
    a = {
        **part,
        "day": [day, day + 1],
        "bars": [100, 30],
        "Stable_Flow": [1.0, 1.0],
        "Directional_Vol": [0.0, 0.0],
    }
    b = {**part, "day": [day + 1], "bars": [10], "Stable_Flow": [0.0], "Directional_Vol": [1.0]}
    for f in (a, b):
        f["Event_Risk"] = [0.0] * len(f["day"])
        f["tradeable"] = [1.0] * len(f["day"])
    merged = _merge_days({k: np.r_[np.asarray(a[k], float), np.asarray(b[k], float)] for k in a})
    assert merged["day"].tolist() == [day, day + 1]
    assert merged["bars"].tolist() == [100, 40]
    assert merged["Stable_Flow"] == pytest.approx([1.0, 0.75])
    assert merged["Directional_Vol"][1] == pytest.approx(0.25)
    svg = regime_chart(tmp_path, [{"regime_daily": a}, {"regime_daily": b}])
    # non-empty layers: day 1 calm; day 2 calm + directional; plus the frame and 5 legend swatches
    assert svg.count("<rect") == 3 + 1 + 5


def test_daily_from_hourly_weights_by_bars() -> None:
    tl = {
        "ts": np.array([MON, MON + HOUR, MON + DAY]),
        "prob_stable": np.array([1.0, 0.0, 0.5]),
        "prob_directional": np.array([0.0, 1.0, 0.5]),
        "prob_event": np.array([0.0, 0.0, 0.0]),
        "tradeable": np.array([1.0, 0.0, 1.0]),
        "n": np.array([3.0, 1.0, 2.0]),
    }
    d = daily_from_hourly(tl)
    assert d["Stable_Flow"] == pytest.approx([0.75, 0.5])
    assert d["tradeable"] == pytest.approx([0.75, 1.0])


def test_six_months_of_regimes_render_as_weekly_columns(tmp_path: Path) -> None:
    days = [MON // DAY + 7 * w + k for w in range(26) for k in range(5)]
    folds = [
        {
            "regime_daily": {
                "day": days,
                "bars": [1000] * len(days),
                "Stable_Flow": [0.6] * len(days),
                "Directional_Vol": [0.3] * len(days),
                "Event_Risk": [0.05] * len(days),
                "tradeable": [0.5] * len(days),
            }
        }
    ]
    svg = regime_chart(tmp_path, folds)
    assert "per week" in svg
    # 26 weeks x 4 layers (3 regimes + not classified), plus the frame and 5 legend swatches
    assert svg.count("<rect") == 26 * 4 + 1 + 5


def test_stitched_figures_from_fold_returns(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    r1, r2 = rng.normal(0.001, 0.01, 20), rng.normal(-0.0005, 0.01, 20)
    folds = [
        {
            "daily": {"day": list(range(20)), "ret": r1.tolist()},
            "max_drawdown": 0.02,
            "spread_cost_usd": 5.0,
            "commission_usd": 1.0,
        },
        {
            "daily": {"day": list(range(20, 40)), "ret": r2.tolist()},
            "max_drawdown": 0.04,
            "spread_cost_usd": 7.0,
            "commission_usd": 2.0,
        },
    ]
    s = stitched_figures({"n_trials": 10}, folds, tmp_path)
    r = np.r_[r1, r2]
    eq = np.cumprod(np.r_[1.0, 1 + r])
    assert s["return"] == pytest.approx(eq[-1] - 1)
    assert s["sharpe"] == pytest.approx(r.mean() / r.std(ddof=1) * math.sqrt(260))
    peak = np.maximum.accumulate(eq)
    assert s["max_drawdown"] == pytest.approx(float((1 - eq / peak).max()))
    assert s["max_drawdown_intraday"] == 0.04
    assert s["spread_cost_usd"] == 12.0
    sk, ku = stats.moments(r)
    assert s["dsr"] == pytest.approx(stats.deflated_sharpe(stats.sharpe(r), 40, sk, ku, 0.0, 10))
    assert s["pbo"] is None
    assert s["n_trials"] == 10
    html = summary_cards({"stitched": {"pbo": 0.3}, "run_id": "x"}, folds, tmp_path)
    for label in (
        "Sharpe",
        "Deflated Sharpe",
        "PBO",
        "Max drawdown",
        "Round trips",
        "Time in market",
        "Execution cost",
    ):
        assert label in html
    assert "0.30" in html
