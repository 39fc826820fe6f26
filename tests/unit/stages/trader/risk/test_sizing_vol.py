from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

from streams.stages.trader.risk.sizing import horizon_cov, optimise_weights, utility, window_cov
from streams.stages.trader.risk.vol_target import annual_vol, vol_scale

M = 52 * 5 * 1440


def _problem(seed: int, p: int = 4) -> tuple:
    rng = np.random.default_rng(seed)
    a = rng.normal(0, 1e-3, (p, p))
    cov = a @ a.T + np.eye(p) * 1e-7
    mu = rng.normal(0, 3e-4, p)
    w0 = rng.normal(0, 0.3, p)
    cost = rng.uniform(0, 1e-4, p)
    return mu, cov, w0, cost


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_coordinate_ascent_matches_a_generic_optimiser(seed: int) -> None:
    mu, cov, w0, cost = _problem(seed)
    active = np.ones(4, dtype=bool)
    w = optimise_weights(mu, cov, w0, cost, 10.0, active, sweeps=500)
    ref = minimize(
        lambda x: -utility(x, mu, cov, w0, cost, 10.0),
        w0,
        method="Powell",
        options={"xtol": 1e-10, "ftol": 1e-14, "maxiter": 20000},
    )
    assert utility(w, mu, cov, w0, cost, 10.0) >= -ref.fun - 1e-10


def test_no_trade_when_edge_below_turnover_cost() -> None:
    cov = np.diag([1e-6, 1e-6])
    w = optimise_weights(
        np.array([5e-5, 3e-4]), cov, np.zeros(2), np.array([1e-4, 1e-4]), 10.0, np.ones(2, dtype=bool)
    )
    assert w[0] == 0.0
    # Single active coordinate, w0 = 0: w = (mu - c) / (2 lambda var) = 2e-4 / 2e-5 = 10.
    assert w[1] == pytest.approx(10.0, rel=1e-12)


def test_inactive_coordinates_stay_fixed() -> None:
    mu, cov, w0, cost = _problem(3)
    active = np.array([True, False, True, False])
    w = optimise_weights(mu, cov, w0, cost, 5.0, active)
    assert w[1] == w0[1]
    assert w[3] == w0[3]


def test_vol_target_hits_target_on_a_synthetic_series() -> None:
    rng = np.random.default_rng(7)
    true = np.array([[1.0, 0.6, -0.3], [0.6, 1.5, 0.1], [-0.3, 0.1, 0.8]]) * 1e-8
    r = rng.multivariate_normal(np.zeros(3), true, size=400_000)
    est = window_cov(r[:200_000])  # estimate on the first half ...
    cand = np.array([1.0, -0.5, 2.0])
    k = vol_scale(np.zeros(3), cand, est, 0.10, M)
    realised = float(np.std(r[200_000:] @ (k * cand)) * np.sqrt(M))  # ... realised on the second
    assert realised == pytest.approx(0.10, rel=0.02)


def test_vol_scale_adds_only_the_remaining_budget() -> None:
    cov = np.diag([1e-8, 2e-8])
    held, cand = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    k = vol_scale(held, cand, cov, 0.10, M)
    assert annual_vol(held + k * cand, cov, M) == pytest.approx(0.10, rel=1e-12)
    assert vol_scale(held * 100, cand, cov, 0.10, M) == 0.0  # held book alone is above target


def test_horizon_cov_scales_by_sqrt_of_horizons() -> None:
    c = horizon_cov(np.array([[4.0, 1.0], [1.0, 9.0]]), np.array([4.0, 9.0]))
    np.testing.assert_allclose(c, [[16.0, 6.0], [6.0, 81.0]])
