from __future__ import annotations

import numpy as np
import pytest

from backtest.spread_study import calibrate, quantile_table, session_labels
from streams.data.spread_model import SpreadConfig

# 2019-01-07 (a Monday) 00:00 UTC; New York on EST (UTC-5).
MONDAY = 1_546_819_200_000
MIN = 60_000


def _day() -> dict[str, np.ndarray]:
    ts = MONDAY + np.arange(1440, dtype=np.int64) * MIN
    low = np.full(1440, 1.3)
    return {"pair": np.full(1440, "GBPUSD"), "ts": ts, "high": low + 0.0002, "low": low}


def test_calibrate_recovers_known_base_and_factors() -> None:
    # Constant ranges: bar and regime factors are 1, so the real spread is base x the session factor.
    bars = _day()
    cfg = SpreadConfig()
    label = session_labels(bars["ts"], cfg)
    truth = {"asia": 2.0, "ny_afternoon": 1.5, "rollover": 8.0, "post_rollover": 4.0}
    real = 0.6e-4 * np.array([truth.get(lb, 1.0) for lb in label])
    base, factors = calibrate(bars, real, cfg)
    assert base == pytest.approx(0.6)
    assert factors == pytest.approx(truth)
    # 00:00-07:00 UTC = 19:00-02:00 EST: Asia; 07:00-17:00 UTC = 02:00-12:00 EST: the reference.
    assert (label[: 7 * 60] == "asia").all()
    assert (label[7 * 60 : 17 * 60] == "reference").all()


def test_quantile_table_rows_and_mask() -> None:
    bars = _day()
    real = np.full(1440, 0.5e-4)
    table = quantile_table(bars, real, SpreadConfig(), rows_mask=bars["ts"] >= MONDAY + 12 * 60 * MIN)
    row = table[(table["session"] == "all") & (table["kind"] == "real")].iloc[0]
    assert row["n"] == 720
    assert row["p50"] == pytest.approx(0.5)
    assert row["mean"] == pytest.approx(0.5)
    model_ref = table[(table["session"] == "reference") & (table["kind"] == "model")].iloc[0]
    assert model_ref["n"] == 5 * 60
    assert model_ref["mean"] == pytest.approx(0.52)
