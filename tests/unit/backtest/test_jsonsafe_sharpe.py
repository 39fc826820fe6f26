"""The one JSON cleaner and the daily Sharpe ratio (now computed by backtest.stats.sharpe)."""

from __future__ import annotations

import json
import math

import numpy as np

from backtest.engine import daily_sharpe
from backtest.jsonsafe import clean

DAY = 86_400_000


def test_clean_gives_strict_json() -> None:
    value = {
        1: np.float64("nan"),
        "a": [1.0, float("inf"), np.int64(3)],
        "b": (np.float32(0.5), {"c": -math.inf}),
        "d": np.array([1.0, np.nan]),
        "e": "text",
        "f": None,
    }
    out = clean(value)
    assert out == {
        "1": None,
        "a": [1.0, None, 3],
        "b": [0.5, {"c": None}],
        "d": [1.0, None],
        "e": "text",
        "f": None,
    }
    assert type(out["a"][2]) is int
    json.dumps(out, allow_nan=False)


def test_daily_sharpe_by_hand() -> None:
    # Four UTC days; the curve's last value of each day is its close: 100, 110, 99, 108.9.
    ts = np.array([0, DAY // 2, DAY + 1, 2 * DAY + 5, 2 * DAY + 9, 3 * DAY], dtype=np.int64)
    equity = np.array([90.0, 100.0, 110.0, 120.0, 99.0, 108.9])
    rets = [0.1, -0.1, 0.1]
    mean = sum(rets) / 3
    sd = math.sqrt(sum((r - mean) ** 2 for r in rets) / 2)
    assert math.isclose(daily_sharpe(ts, equity), mean / sd * math.sqrt(260.0), rel_tol=1e-12)
    assert math.isnan(daily_sharpe(ts[:3], equity[:3]))  # two days: one return
    assert math.isnan(daily_sharpe(ts[:0], equity[:0]))
