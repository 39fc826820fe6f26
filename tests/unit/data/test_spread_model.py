from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.data.spread_model import (
    SpreadConfig,
    describe,
    model_spread,
    regime_ratio,
    session_factor,
    synthetic_spread_config,
)

# 2019-01-07 (a Monday) 00:00 UTC; New York is on EST (UTC-5) in January.
MONDAY = 1_546_819_200_000
# 2019-07-08 (a Monday) 00:00 UTC; New York is on EDT (UTC-4).
SUMMER_MONDAY = 1_562_544_000_000
HOUR = 3_600_000
MIN = 60_000
NO_REGIME = SpreadConfig(regime_elasticity=0.0)


def _flat(pair: str, n: int, start: int, rng: float = 0.0002) -> tuple[np.ndarray, ...]:
    ts = start + np.arange(n, dtype=np.int64) * MIN
    return np.full(n, pair), ts, np.full(n, 1.1 + rng), np.full(n, 1.1)


def test_base_spread_in_reference_hours() -> None:
    # 12:00 UTC = 07:00 New York: the reference hours (factor 1); constant range: bar and regime factors 1.
    pair, ts, high, low = _flat("EURUSD", 5, MONDAY + 12 * HOUR)
    np.testing.assert_allclose(model_spread(pair, ts, high, low), 0.4 * 0.0001)
    pair, ts, high, low = _flat("USDJPY", 5, MONDAY + 12 * HOUR, rng=0.02)
    np.testing.assert_allclose(model_spread(pair, ts, high, low), 0.25 * 0.01)


def test_sessions_follow_new_york_time_across_daylight_saving() -> None:
    cfg = SpreadConfig()
    gbp = cfg.session_factors["GBPUSD"]
    # January: 22:05 UTC = 17:05 EST (rollover), 21:30 UTC = 16:30 EST (NY afternoon), 03:00 UTC = 22:00
    # EST (Asia), 12:00 UTC = 07:00 EST (reference).
    winter = MONDAY + np.array([22 * HOUR + 5 * MIN, 21 * HOUR + 30 * MIN, 3 * HOUR, 12 * HOUR])
    np.testing.assert_allclose(
        session_factor(winter, cfg, np.full(4, "GBPUSD")),
        [gbp["rollover"], gbp["ny_afternoon"], gbp["asia"], 1.0],
    )
    # July: the rollover is at 21:00 UTC (17:00 EDT); 22:05 UTC = 18:05 EDT is Asian hours.
    summer = SUMMER_MONDAY + np.array([21 * HOUR + 5 * MIN, 22 * HOUR + 5 * MIN, 21 * HOUR + 20 * MIN])
    np.testing.assert_allclose(
        session_factor(summer, cfg, np.full(3, "GBPUSD")),
        [gbp["rollover"], gbp["asia"], gbp["post_rollover"]],
    )


def test_profiles_fall_back_by_quote_currency() -> None:
    cfg = SpreadConfig()
    ts = np.full(3, MONDAY + 3 * HOUR)  # Asian hours
    f = session_factor(ts, cfg, np.array(["AUDUSD", "EURJPY", "USDJPY"]))
    assert f.tolist() == [cfg.session_factors["*"]["asia"], cfg.session_factors["*JPY"]["asia"], 1.03]


def test_synthetic_config_keeps_the_old_model() -> None:
    # The pre-calibration model by hand: base 0.4 pip (EURUSD), UTC Asian hours x1.6, 21-22 UTC x6,
    # bar factor sqrt(range / rolling median range), no regime factor.
    cfg = synthetic_spread_config()
    ts = MONDAY + np.array([12 * HOUR, 2 * HOUR, 21 * HOUR + 30 * MIN], dtype=np.int64)
    np.testing.assert_allclose(session_factor(ts, cfg), [1.0, 1.6, 6.0])
    pair, ts, high, low = _flat("EURUSD", 100, MONDAY + 12 * HOUR)
    high[-1] = low[-1] + 0.0002 * 4  # 4x the median range -> sqrt(4) = 2
    s = model_spread(pair, ts, high, low, cfg)
    assert s[-1] == pytest.approx(2 * 0.4e-4)
    assert s[0] == pytest.approx(0.4e-4)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0.0, 0.01), min_size=2, max_size=80), st.floats(0.0, 0.01))
def test_spread_monotonic_in_the_last_bar_range(ranges: list[float], extra: float) -> None:
    # Widening the newest bar's range never narrows its spread; spreads stay within the factor bounds.
    n = len(ranges)
    pair = np.full(n, "EURUSD")
    ts = MONDAY + 12 * HOUR + np.arange(n, dtype=np.int64) * MIN
    low = np.full(n, 1.1)
    high = low + np.asarray(ranges)
    wider = high.copy()
    wider[-1] += extra
    a, b = model_spread(pair, ts, high, low), model_spread(pair, ts, wider, low)
    assert b[-1] >= a[-1] * (1 - 1e-12)
    base, cfg = 0.4e-4, SpreadConfig()
    assert np.all(a >= base * (1 - 1e-12))
    assert np.all(a <= base * cfg.vol_cap * cfg.regime_cap * (1 + 1e-12))


def test_bar_volatility_factor_threshold_and_cap() -> None:
    pair, ts, high, low = _flat("EURUSD", 100, MONDAY + 12 * HOUR)
    high[-1] = low[-1] + 0.0002 * 12  # 12x the median range -> sqrt(12 / 3) = 2
    high[-2] = low[-2] + 0.0002 * 2  # 2x: below the threshold of 3 -> 1
    high[-3] = low[-3] + 0.0002 * 1000  # huge -> capped at 5
    s = model_spread(pair, ts, high, low, NO_REGIME)
    assert s[-1] == pytest.approx(2 * 0.4e-4)
    assert s[-2] == pytest.approx(0.4e-4)
    assert s[-3] == pytest.approx(5 * 0.4e-4)


def _ewma(x: np.ndarray, halflife: float) -> np.ndarray:
    # Bias-corrected EWMA by its definition: sum_i w^i x_{t-i} / sum_i w^i, w = 2 ** (-1 / halflife).
    w = 2.0 ** (-1.0 / halflife)
    out = np.empty(len(x))
    for t in range(len(x)):
        weights = w ** np.arange(t, -1, -1)
        out[t] = (weights * x[: t + 1]).sum() / weights.sum()
    return out


def test_regime_ratio_against_a_direct_computation() -> None:
    # 50 bars inside one New York hour (07:00-07:50 EST): range 2 pips, then 3 bars of 6 pips.
    cfg = SpreadConfig(regime_halflife_bars=4.0, regime_baseline_days=0.5)  # baseline half-life 30 bars
    n = 53
    pair, ts, high, low = _flat("EURUSD", n, MONDAY + 12 * HOUR)
    high[50:] = low[50:] + 0.0006
    v = np.log(high / low) ** 2
    expected = np.sqrt(_ewma(v / _ewma(v, 30.0), 4.0))
    got = regime_ratio(pair, ts, high, low, np.full(n, 1e-4), cfg)
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    assert got[:50] == pytest.approx(np.ones(50))
    spread = model_spread(pair, ts, high, low, cfg.model_copy(update={"vol_threshold": 1e9}))
    factor = np.clip(expected / cfg.regime_threshold, 1.0, cfg.regime_cap)
    np.testing.assert_allclose(spread, 0.4e-4 * factor, rtol=1e-10)
    assert factor[-1] > 1.0


def _calm_then_crisis(days_calm: int, days_crisis: int, scale: float) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(5)
    n_calm, n_crisis = days_calm * 1440, days_crisis * 1440
    ts = MONDAY + np.arange(n_calm + n_crisis, dtype=np.int64) * MIN
    width = np.concatenate([np.full(n_calm, 1.0), np.full(n_crisis, scale)])
    rng_pips = rng.uniform(0.5, 1.5, len(ts)) * 2.0 * width
    low = np.full(len(ts), 1.3)
    return np.full(len(ts), "GBPUSD"), ts, low + rng_pips * 1e-4, low


def test_sustained_crisis_widens_the_spread() -> None:
    # Regression: the old model compared each bar only with the previous 60, so a day of 3x volatility
    # after 20 calm days left the spread where it was (measured below with the synthetic config).
    pair, ts, high, low = _calm_then_crisis(20, 1, 3.0)
    crisis = ts >= ts[0] + 20 * 1440 * MIN
    calm_day = (ts >= ts[0] + 19 * 1440 * MIN) & ~crisis
    new = model_spread(pair, ts, high, low)
    old = model_spread(pair, ts, high, low, synthetic_spread_config())
    assert old[crisis].mean() / old[calm_day].mean() < 1.1
    # Variance ratio 9 -> volatility ratio 3 once the 6-hour EWMA has caught up -> factor 3 / 1.5 = 2;
    # the day's mean is lower because the EWMA ramps up over the first hours.
    assert new[crisis].mean() / new[calm_day].mean() > 1.4
    assert new[crisis][-60:].mean() / new[calm_day].mean() == pytest.approx(2.0, rel=0.05)


def test_describe_names_model_and_parameters() -> None:
    a, b = describe(SpreadConfig()), describe(SpreadConfig(regime_threshold=2.0))
    assert a["model"] == "hslr-spread-v2"
    assert a["id"].startswith("hslr-spread-v2:")
    assert a["id"] == describe(SpreadConfig())["id"] != b["id"]
    assert a["params"]["regime_threshold"] == 1.5
    assert math.isclose(a["params"]["base_pips"]["GBPUSD"], 0.52)


def test_row_order_does_not_matter_and_pairs_are_separate() -> None:
    rng = np.random.default_rng(0)
    n = 200
    pair = np.where(np.arange(n) % 2 == 0, "EURUSD", "GBPJPY")
    ts = MONDAY + (np.arange(n) // 2).astype(np.int64) * MIN
    low = np.where(pair == "EURUSD", 1.1, 140.0)
    high = low + rng.uniform(0, 1, n) * np.where(pair == "EURUSD", 0.0005, 0.05)
    s = model_spread(pair, ts, high, low)
    perm = rng.permutation(n)
    np.testing.assert_allclose(model_spread(pair[perm], ts[perm], high[perm], low[perm]), s[perm])
    assert np.all(s[pair == "GBPJPY"] > 0.01 * 1.6 - 1e-12)


def test_unknown_or_unconfigured_pair() -> None:
    with pytest.raises(ValueError, match="unknown pair"):
        model_spread(np.array(["XXXYYY"]), np.array([0]), np.array([1.0]), np.array([1.0]))
    cfg = SpreadConfig(base_pips={"EURUSD": 0.3})
    with pytest.raises(ValueError, match="no base spread"):
        model_spread(np.array(["USDJPY"]), np.array([0]), np.array([1.0]), np.array([1.0]), cfg)
    with pytest.raises(ValueError, match="extra"):
        SpreadConfig(unknown_field=1)  # type: ignore[call-arg]
