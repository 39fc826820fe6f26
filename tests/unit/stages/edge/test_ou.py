"""OU governance: theta recovery on simulated OU paths, an independent least-squares reference, flags."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.stages.edge.ou import empty_history, ou_update
from tests.kit.regime_adjusted import OULaw


def _fit(
    x: np.ndarray, window: int, gap: np.ndarray | None = None, min_points: int = 30, min_t_stat: float = 2.86
):
    g = np.ones(len(x), dtype=np.int32) if gap is None else gap
    return ou_update(empty_history(), x, g, window, min_points, min_t_stat)[1]


def test_theta_recovered_on_simulated_paths() -> None:
    """Paths of N = 5000 one-minute steps, theta = 0.1 / min (half-life 6.9 min), 20 seeds, estimated on
    the whole path (window 5000): the analytic standard error of theta is ~0.0066 (6.6 %), so every
    estimate must lie within 10 % + 3 se and their mean within 3 %. On a long path (N = 50,000,
    theta = 0.02, window 2000) the median rolling estimate must land within 10 %."""
    law = OULaw(theta=0.1, sigma=1.0)
    est = []
    for seed in range(20):
        fit = _fit(law.path(5000, np.random.default_rng(seed)), window=5000)
        est.append(fit.theta[-1])
    est = np.array(est)
    se = math.sqrt((1 - math.exp(-0.2)) / 5000) / math.exp(-0.1)
    assert np.all(np.abs(est - 0.1) <= 0.1 * 0.1 + 3 * se)
    assert abs(est.mean() / 0.1 - 1) < 0.03
    slow = OULaw(theta=0.02, sigma=1.0).path(50_000, np.random.default_rng(99))
    fit = _fit(slow, window=2000)
    # Rolling windows over the whole path: the median estimate converges to theta.
    assert abs(np.median(fit.theta[2000:]) / 0.02 - 1) < 0.1
    assert fit.valid[2000:].mean() > 0.95
    assert np.allclose(fit.half_life_min[2000:], math.log(2) / fit.theta[2000:])


def test_matches_independent_least_squares() -> None:
    x = OULaw(theta=0.05, sigma=1.0).path(400, np.random.default_rng(3))
    gap = np.ones(400, dtype=np.int32)
    gap[[100, 250]] = 3  # transitions into these bars span a gap and must be left out
    fit = _fit(x, window=120, gap=gap)
    for t in (150, 260, 399):
        lo = t - 120 + 1
        j = np.arange(lo + 1, t + 1)
        j = j[gap[j] == 1]
        b, _a = np.polyfit(x[j - 1], x[j], 1)
        assert fit.theta[t] == pytest.approx(-math.log(b), rel=1e-5)  # values quantised to 1.5e-5
        assert fit.n[t] == len(j)


def test_validity_flags() -> None:
    rng = np.random.default_rng(4)
    # No reversion (random walks): least squares still finds b < 1 (bias ~ 4 / n), the Dickey-Fuller
    # criterion must reject it; at the 5 % critical value about 5 % of windows pass.
    passed = []
    for seed in range(10):
        walk = np.cumsum(np.random.default_rng(seed).normal(size=5000))
        fit = _fit(walk, window=480, min_points=120)
        passed.append(fit.valid[480:].mean())
    assert 0.0 < np.mean(passed) < 0.12
    alternating = (-1.0) ** np.arange(300) + rng.normal(0, 0.1, 300)  # b < 0: not an OU
    fit = _fit(alternating, window=200)
    assert not fit.valid[-1]
    assert np.isnan(fit.theta[-1])
    short = _fit(OULaw(0.1, 1.0).path(20, rng), window=200)
    assert not short.valid.any()
    assert np.isnan(short.theta).all()
    gappy = _fit(OULaw(0.1, 1.0).path(500, rng), window=200, gap=np.full(500, 2, dtype=np.int32))
    assert not gappy.valid.any()
    assert (gappy.n == 0).all()
    # A fast OU over the same window is valid with the same criterion.
    fast = _fit(OULaw(0.1, 1.0).path(1000, np.random.default_rng(5)), window=480, min_points=120)
    assert fast.valid[480:].all()


@settings(max_examples=30, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=600), max_size=6))
def test_split_invariance_exact(cuts: list[int]) -> None:
    rng = np.random.default_rng(6)
    x = OULaw(0.05, 1.0).path(600, rng)
    x[rng.integers(0, 600, 10)] = np.nan
    gap = np.where(rng.random(600) < 0.05, 2, 1).astype(np.int32)
    whole = _fit(x, window=97, gap=gap)
    hist = empty_history()
    parts = []
    edges = [0, *sorted(cuts), 600]
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        hist, f = ou_update(hist, x[a:b], gap[a:b], 97, 30, 2.86)
        parts.append(f)
    for name in ("theta", "half_life_min", "valid", "n"):
        np.testing.assert_array_equal(np.concatenate([getattr(p, name) for p in parts]), getattr(whole, name))
