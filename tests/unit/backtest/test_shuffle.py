"""Permutation test: small p on a real edge, large on noise; block shuffle keeps bars consistent."""

from __future__ import annotations

import numpy as np
import pytest

from backtest.shuffle import block_shuffle_bars, edge_statistic, permutation_test, permute_within
from streams.core.batch import Batch


def _signals(rng: np.random.Generator, edge: float, n: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    signal = rng.choice([-1.0, 0.0, 1.0], n)
    outcome = rng.normal(0.0, 1.0, n) + edge * signal
    return signal, outcome


def test_small_p_value_with_real_edge() -> None:
    s, y = _signals(np.random.default_rng(0), 0.15)
    res = permutation_test(s, y, np.random.default_rng(1), n_perm=300)
    assert res["p_value"] < 0.01
    assert res["statistic"] > 0.1


def test_large_p_values_on_noise() -> None:
    ps = [
        permutation_test(
            *_signals(np.random.default_rng(s), 0.0), np.random.default_rng(s + 100), n_perm=200
        )["p_value"]
        for s in range(8)
    ]
    assert min(ps) > 0.01
    assert np.mean(ps) > 0.25


def test_edge_statistic_by_hand() -> None:
    assert edge_statistic(
        np.array([1.0, -1.0, 0.0, 1.0]), np.array([0.2, -0.4, 9.0, np.nan])
    ) == pytest.approx(0.3)


def test_permutation_stays_within_groups() -> None:
    v = np.array([1.0, 2.0, 3.0, 10.0, 20.0, np.nan])
    g = np.array(["a", "a", "a", "b", "b", "b"])
    out = permute_within(v, g, np.random.default_rng(0))
    assert sorted(out[:3]) == [1, 2, 3]
    assert sorted(out[3:5]) == [10, 20]
    assert np.isnan(out[5])


def _bars() -> Batch:
    rng = np.random.default_rng(2)
    n = 501  # 500 returns: 50 blocks of exactly 10
    close = 1.1 * np.exp(np.cumsum(rng.normal(0, 1e-4, n)))
    opn = close * np.exp(rng.normal(0, 3e-5, n))
    high = np.maximum(opn, close) * (1 + rng.uniform(0, 1e-4, n))
    low = np.minimum(opn, close) * (1 - rng.uniform(0, 1e-4, n))
    ts = np.arange(n, dtype=np.int64) * 60_000
    return Batch(
        {
            "pair": np.array(["EURUSD"] * n),
            "ts": ts,
            "open": opn,
            "high": high,
            "low": low,
            "close": close,
            "volume": rng.uniform(1, 9, n),
            "spread": rng.uniform(1e-5, 3e-5, n),
        }
    )


def test_block_shuffle_keeps_returns_shapes_and_times() -> None:
    bars = _bars()
    out = block_shuffle_bars(bars, np.random.default_rng(3), block=10)
    r0, r1 = np.diff(np.log(bars["close"])), np.diff(np.log(out["close"]))
    assert np.allclose(np.sort(r0), np.sort(r1))
    assert not np.allclose(r0, r1)
    assert out["close"][0] == bars["close"][0]
    assert np.array_equal(out["ts"], bars["ts"])
    assert (out["high"] >= np.maximum(out["open"], out["close"]) - 1e-12).all()
    assert (out["low"] <= np.minimum(out["open"], out["close"]) + 1e-12).all()
    # whole blocks move: returns inside a block stay consecutive
    starts = [int(np.argmin(np.abs(r0 - r1[i]))) for i in range(0, 500, 10)]
    for i, s in zip(range(0, 500, 10), starts, strict=True):
        assert np.allclose(r1[i : i + 10], r0[s : s + 10])


def test_block_shuffle_destroys_mean_reversion() -> None:
    # an OU path (half-life ≈ 7 bars): its displacement from the trailing 50-bar mean predicts the next
    # 20 bars' move (strongly negative correlation); after a 5-bar block shuffle much less
    rng = np.random.default_rng(4)
    x = np.zeros(20_000)
    for t in range(1, len(x)):
        x[t] = 0.9 * x[t - 1] + rng.normal(0, 1e-4)
    bars = _bars()
    n = len(x)
    close = 1.1 * np.exp(x)
    b = Batch(
        {
            "pair": np.array(["EURUSD"] * n),
            "ts": np.arange(n, dtype=np.int64) * 60_000,
            "open": close,
            "high": close,
            "low": close,
            "close": close,
            "volume": np.ones(n),
            "spread": np.full(n, 1e-5),
        }
    )
    del bars

    def reversion(c: np.ndarray) -> float:
        lc = np.log(c)
        trailing = np.convolve(lc, np.ones(50) / 50, "valid")  # mean of bars t-49..t, at index t-49
        lvl = lc[49:] - trailing  # displacement from the trailing mean (past only)
        return float(np.corrcoef(lvl[:-20], lc[69:] - lc[49:-20])[0, 1])

    assert reversion(close) < -0.5
    assert abs(reversion(block_shuffle_bars(b, np.random.default_rng(5), block=5)["close"])) < 0.5 * abs(
        reversion(close)
    )
