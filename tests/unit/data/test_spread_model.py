from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.data.spread_model import SpreadConfig, model_spread, session_factor

# 2019-01-07 (a Monday) 00:00 UTC
MONDAY = 1_546_819_200_000
HOUR = 3_600_000


def _flat(pair: str, n: int, start: int, rng: float = 0.0002) -> tuple[np.ndarray, ...]:
    ts = start + np.arange(n, dtype=np.int64) * 60_000
    return np.full(n, pair), ts, np.full(n, 1.1 + rng), np.full(n, 1.1)


def test_base_spread_in_liquid_hours() -> None:
    pair, ts, high, low = _flat("EURUSD", 5, MONDAY + 12 * HOUR)
    spread = model_spread(pair, ts, high, low)
    # Constant range -> volatility factor 1; London hours -> session factor 1: 0.4 pip = 0.00004.
    np.testing.assert_allclose(spread, 0.4 * 0.0001)
    pair, ts, high, low = _flat("USDJPY", 5, MONDAY + 12 * HOUR, rng=0.02)
    np.testing.assert_allclose(model_spread(pair, ts, high, low), 0.5 * 0.01)


def test_session_ordering_rollover_gt_asian_gt_london() -> None:
    cfg = SpreadConfig()
    # winter: the rollover hour is 17:00-18:00 New York = 22:00-23:00 UTC
    ts = np.array([MONDAY + 12 * HOUR, MONDAY + 2 * HOUR, MONDAY + 22 * HOUR + 30 * 60_000], dtype=np.int64)
    f = session_factor(ts, cfg)
    assert f[0] == 1.0
    assert f[1] == cfg.asian_factor
    assert f[2] == cfg.rollover_factor
    assert f[2] > f[1] > f[0]


def test_rollover_hour_follows_new_york_time() -> None:
    # 2019-07-08 (a Monday, US summer time): the rollover is 21:00-22:00 UTC; 22:30 UTC is Asian hours
    summer = MONDAY + 182 * 24 * HOUR
    cfg = SpreadConfig()
    f = session_factor(np.array([summer + 21 * HOUR + 30 * 60_000, summer + 22 * HOUR + 30 * 60_000]), cfg)
    assert f.tolist() == [cfg.rollover_factor, cfg.asian_factor]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0.0, 0.01), min_size=2, max_size=80), st.floats(0.0, 0.01))
def test_spread_monotonic_in_the_last_bar_range(ranges: list[float], extra: float) -> None:
    # Widening the newest bar's range never narrows its spread; spreads stay within [base, base*cap].
    n = len(ranges)
    pair = np.full(n, "EURUSD")
    ts = MONDAY + 12 * HOUR + np.arange(n, dtype=np.int64) * 60_000
    low = np.full(n, 1.1)
    high = low + np.asarray(ranges)
    wider = high.copy()
    wider[-1] += extra
    a, b = model_spread(pair, ts, high, low), model_spread(pair, ts, wider, low)
    assert b[-1] >= a[-1] - 1e-15
    base = 0.4e-4
    assert np.all(a >= base - 1e-15)
    assert np.all(a <= base * SpreadConfig().vol_cap + 1e-15)


def test_volatility_factor_caps_and_widens() -> None:
    pair, ts, high, low = _flat("EURUSD", 100, MONDAY + 12 * HOUR)
    high[-1] = low[-1] + 0.0002 * 4  # 4x the median range -> factor sqrt(4) = 2
    high[-2] = low[-2] + 0.0002 * 1000  # huge -> capped
    s = model_spread(pair, ts, high, low)
    assert s[-1] == pytest.approx(2 * 0.4e-4)
    assert s[-2] == pytest.approx(SpreadConfig().vol_cap * 0.4e-4)


def test_row_order_does_not_matter_and_pairs_are_separate() -> None:
    rng = np.random.default_rng(0)
    n = 200
    pair = np.where(np.arange(n) % 2 == 0, "EURUSD", "GBPJPY")
    ts = MONDAY + (np.arange(n) // 2).astype(np.int64) * 60_000
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
