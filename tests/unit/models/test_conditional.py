"""Edge model vs the closed-form conditional law of an OU trade, and its summary statistics by hand."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from scipy.stats import norm

from models.conditional import weighted_outcome_stats
from models.edge import EdgeModel
from tests.kit.regime_adjusted import OULaw

H = 30
LAW = OULaw(theta=0.05, sigma=1e-4)


def _features(x: np.ndarray, session: np.ndarray | None = None) -> np.ndarray:
    ones = np.ones_like(x)
    s = np.zeros_like(x) if session is None else session
    return np.column_stack([norm.cdf(x / LAW.stationary_sd), ones, ones, s])


@pytest.fixture(scope="module")
def ou_training() -> tuple[np.ndarray, np.ndarray]:
    x, xh = LAW.samples(200_000, H, np.random.default_rng(1))
    return _features(x), -np.sign(x) * (xh - x)


def test_weighted_stats_by_hand() -> None:
    y = np.array([[4.0, -1.0, 2.0, -3.0]])
    st = weighted_outcome_stats(y, np.ones((1, 4)), alpha=0.25)
    np.testing.assert_allclose(st[0], [0.5, 0.5, -3.0, 4.0])
    # alpha 0.5 = the two worst outcomes; 0.375 = all of -3 and half of -1 (fractional boundary).
    assert weighted_outcome_stats(y, np.ones((1, 4)), alpha=0.5)[0, 2] == pytest.approx(-2.0)
    assert weighted_outcome_stats(y, np.ones((1, 4)), alpha=0.375)[0, 2] == pytest.approx(
        (-3 * 0.25 - 0.125) / 0.375
    )
    # Kernel weights 1:3 on outcomes -1, +1: mean 0.5, win 0.75, Kish n_eff = 4^2 / (1 + 9) = 1.6.
    st = weighted_outcome_stats(np.array([[-1.0, 1.0]]), np.array([[1.0, 3.0]]), alpha=0.1)
    np.testing.assert_allclose(st[0], [0.5, 0.75, -1.0, 1.6])


@pytest.mark.parametrize(("method", "inference"), [("knn", "exact"), ("knn", "grid"), ("kde", "grid")])
def test_matches_analytic_ou_law(ou_training, method: str, inference: str) -> None:
    """Tolerances (s = conditional sd of the trade return, k = 400 neighbours, sampling error s/20):
    expected return rms <= 0.1 s and max <= 0.25 s; win probability max abs error <= 0.08 and rms <= 0.04;
    5 % CVaR rms <= 0.2 s and max <= 0.5 s (the CVaR rests on ~20 tail outcomes per query)."""
    X, y = ou_training
    model = EdgeModel(method=method, inference=inference, n_neighbors=400, bandwidth=0.005).fit(X, y)
    xq = LAW.stationary_sd * norm.ppf(np.linspace(0.03, 0.97, 47))
    est = model.predict_stats(_features(xq))
    truth = LAW.analytic(xq, H)
    s = LAW.cond_sd(H)
    err_mu = (est[:, 0] - truth["expected_return"]) / s
    err_win = est[:, 1] - truth["win_prob"]
    err_cvar = (est[:, 2] - truth["cvar"]) / s
    assert np.sqrt(np.mean(err_mu**2)) <= 0.1
    assert np.abs(err_mu).max() <= 0.25
    assert np.sqrt(np.mean(err_win**2)) <= 0.04
    assert np.abs(err_win).max() <= 0.08
    assert np.sqrt(np.mean(err_cvar**2)) <= 0.2
    assert np.abs(err_cvar).max() <= 0.5
    assert est[:, 3].min() > 100  # n_eff: 400 for KNN, Kish of near-flat kernel weights for KDE


def test_grid_close_to_exact_and_session_routing() -> None:
    rng = np.random.default_rng(2)
    x, xh = LAW.samples(60_000, H, rng)
    session = rng.integers(0, 3, len(x)).astype(float)
    # Session 2 trades the opposite way: exact session matching must keep it apart.
    y = np.where(session == 2, -1.0, 1.0) * -np.sign(x) * (xh - x)
    X = _features(x, session)
    exact = EdgeModel(inference="exact", n_neighbors=200, min_session_rows=1000).fit(X, y)
    grid = EdgeModel(inference="grid", n_neighbors=200, min_session_rows=1000).fit(X, y)
    xq = LAW.stationary_sd * norm.ppf(np.linspace(0.02, 0.98, 101))
    s = LAW.cond_sd(H)
    for sess in (0.0, 2.0):
        q = _features(xq, np.full(len(xq), sess))
        a, b = exact.predict_stats(q), grid.predict_stats(q)
        # Both carry the sampling noise of 200 neighbours (s / 14); interpolation smooths it.
        d = (a[:, 0] - b[:, 0]) / s
        assert np.sqrt(np.mean(d**2)) < 0.1
        assert np.abs(d).max() < 0.3
        sign = -1 if sess == 2 else 1
        assert np.all(sign * a[np.abs(xq) > LAW.stationary_sd, 0] > 0)
    # An unseen session falls back to the pooled index instead of failing.
    assert np.isfinite(grid.predict_stats(_features(xq[:3], np.full(3, 7.0)))).all()


def test_nan_features_give_nan_and_model_pickles(ou_training) -> None:
    X, y = ou_training
    model = EdgeModel(n_neighbors=50).fit(X[:5000], y[:5000])
    q = X[:4].copy()
    q[1, 2] = np.nan
    st = pickle.loads(pickle.dumps(model)).predict_stats(q)  # noqa: S301 - round trip of an object this test pickled itself
    assert np.isnan(st[1]).all()
    assert np.isfinite(st[[0, 2, 3]]).all()
    np.testing.assert_array_equal(st, model.predict_stats(q))
