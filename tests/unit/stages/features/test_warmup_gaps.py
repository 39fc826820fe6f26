"""Warm-up, long-gap resets, returns never spanning a gap, and hand-computed values."""

from __future__ import annotations

import math

import numpy as np

from streams.core.batch import Batch
from streams.stages.features import FeaturesConfig, FeaturesStage
from tests.unit.stages.features.helpers import SMALL, market, run_chunks

STAGE = FeaturesStage(SMALL)
BARS = market("2019-03-07", "2019-03-09", seed=5, pairs=["EURUSD", "GBPUSD", "USDJPY"])
OUT = run_chunks(STAGE, BARS, [500, 501, 3000])
WARM = 19  # max(max(5, 8) + 12 - 1, 6 + 1) for SMALL, by hand


def test_warmup_bars_by_hand() -> None:
    assert SMALL.warmup_bars == WARM
    assert FeaturesConfig().warmup_bars == 60 + 240 - 1


def test_no_pair_is_ready_before_its_windows_fill_after_start_and_long_gaps() -> None:
    resets = 0
    for p in np.unique(OUT["pair"]):
        rows = np.flatnonzero(OUT["pair"] == p)
        gap = OUT["gap_min"][rows]
        starts = np.flatnonzero((gap > SMALL.max_gap_min) | (np.arange(len(rows)) == 0))
        resets += len(starts)
        for s in starts:
            after = rows[s : s + WARM - 1]
            assert not OUT["ready"][after].any()
            assert np.isnan(OUT["gk_vol"][after[: SMALL.vol_window - 1]]).all()
            assert np.isnan(OUT["displacement_pct"][after]).all()
            assert np.isnan(OUT["spread_widening"][after[: SMALL.spread_window]]).all()
        assert OUT["ready"][rows].any()
    assert resets >= 6


def test_ready_rows_have_every_feature_but_log_ret_finite() -> None:
    ready = OUT["ready"]
    assert ready.mean() > 0.5
    for k in (
        "gk_vol",
        "spread_widening",
        "tick_velocity",
        "displacement",
        "displacement_pct",
        "xcorr",
        "session_vol_norm",
    ):
        assert np.isfinite(OUT[k][ready]).all(), k
    assert (OUT["displacement_pct"][ready] >= 0).all()
    assert (OUT["displacement_pct"][ready] <= 1).all()
    assert (np.abs(OUT["xcorr"][ready]) <= 1).all()


def test_log_returns_never_span_a_gap() -> None:
    gap, ret = OUT["gap_min"], OUT["log_ret"]
    assert (gap > 1).sum() > 50
    assert np.isnan(ret[gap != 1]).all()
    assert np.isfinite(ret[gap == 1]).all()


def _bars(minutes: list[int], close: list[float], spread: float = 0.0002, volume: float = 0.0) -> Batch:
    n = len(minutes)
    c = np.array(close)
    return Batch(
        {
            "pair": np.full(n, "EURUSD"),
            "ts": 1_552_003_200_000 + 60_000 * np.array(minutes, dtype=np.int64),
            "open": c - 0.0001,
            "high": c + 0.0002,
            "low": c - 0.0003,
            "close": c,
            "volume": np.full(n, volume),
            "spread": np.full(n, spread),
        }
    )


def test_gaps_returns_and_gk_by_hand() -> None:
    cfg = FeaturesConfig(
        vol_window=2, spread_window=1, disp_window=2, pct_window=2, xcorr_min_obs=3, xcorr_window_min=3
    )
    stage = FeaturesStage(cfg)
    _, out = stage.process(
        stage.initial_state(), "bars.clean", _bars([0, 1, 3, 4], [1.1, 1.1011, 1.1, 1.0995])
    )
    f = out["features"]
    assert f["gap_min"].tolist() == [0, 1, 2, 1]
    mids = [1.1001, 1.1012, 1.1001, 1.0996]
    assert math.isclose(f["log_ret"][1], math.log(1.1012 / 1.1001), rel_tol=1e-12)
    assert math.isnan(f["log_ret"][0])
    assert math.isnan(f["log_ret"][2])
    assert math.isclose(f["log_ret"][3], math.log(1.0996 / 1.1001), rel_tol=1e-12)

    def gk(c: float) -> float:  # O = c - 1e-4, H = c + 2e-4, L = c - 3e-4
        return (
            0.5 * math.log((c + 0.0002) / (c - 0.0003)) ** 2
            - (2 * math.log(2) - 1) * math.log(c / (c - 0.0001)) ** 2
        )

    closes = [1.1, 1.1011, 1.1, 1.0995]
    assert math.isnan(f["gk_vol"][0])
    for i in range(1, 4):
        assert math.isclose(f["gk_vol"][i], math.sqrt((gk(closes[i - 1]) + gk(closes[i])) / 2), rel_tol=1e-12)
    # tick velocity proxy: 2 (H - L) - |C - O| = 2 * 5e-4 - 1e-4 = 9e-4 of price, in bp of mid
    for i in range(4):
        assert math.isclose(f["tick_velocity"][i], 1e4 * 0.0009 / mids[i], rel_tol=1e-9)
    # displacement over 2 bars: (m_t - mean) / (mean * gk_vol * sqrt 2)
    mean = (mids[0] + mids[1]) / 2
    assert math.isclose(
        f["displacement"][1], (mids[1] - mean) / (mean * f["gk_vol"][1] * math.sqrt(2)), rel_tol=1e-9
    )
    # ranks over 2 values: bar 2 (-5.5e-4 from its mean) is below bar 1 (+5.5e-4), bar 3 (-2.5e-4) above bar 2
    assert np.isnan(f["displacement_pct"][:2]).all()  # needs 2 displacements, the first exists at bar 1
    assert f["displacement_pct"].tolist()[2:] == [0.0, 1.0]
    np.testing.assert_array_equal(f["spread_widening"], [np.nan, 1.0, 1.0, 1.0])


def test_volume_is_tick_velocity_when_the_source_has_it() -> None:
    stage = FeaturesStage(SMALL)
    _, out = stage.process(stage.initial_state(), "bars.clean", _bars([0, 1], [1.1, 1.1], volume=37.0))
    assert out["features"]["tick_velocity"].tolist() == [37.0, 37.0]


def test_spread_widening_is_nan_when_the_baseline_spread_is_zero() -> None:
    cfg = FeaturesConfig(spread_window=1)
    stage = FeaturesStage(cfg)
    _, out = stage.process(stage.initial_state(), "bars.clean", _bars([0, 1], [1.1, 1.1], spread=0.0))
    assert np.isnan(out["features"]["spread_widening"]).all()
