"""Utility sizing: U(w) = mu'w - lambda w'Sw - sum_i c_i |w_i - w0_i| over candidate pairs.

``w`` are signed weights (USD notional / equity), ``mu`` the signals' signed expected returns over their
horizon, ``S`` the covariance of horizon returns, ``w0`` the current weights and ``c`` the one-way
turnover cost per unit of weight. The objective is concave, so exact coordinate ascent converges; each
coordinate has the closed form of a soft-threshold around ``w0_i``::

    a = 2 lambda S_ii,  b = mu_i - 2 lambda sum_{j != i} S_ij w_j
    w_i = w0_i                       if |b - a w0_i| <= c_i     (not worth the turnover)
    w_i = (b - c_i sign(b - a w0_i)) / a                        otherwise

Non-candidate pairs (held positions without a new signal) stay fixed and only enter through the
covariance cross terms. The result fixes the composition; :mod:`vol_target` then sets the scale.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from streams.core.units import F64 as Vec


def window_cov(returns: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Return the sample covariance (P, P) of per-minute log returns ``returns`` (T, P), zero mean.

    A zero mean is assumed (standard for minute FX returns: the mean is noise and would bias
    the variance of a short window); T must be >= 1.
    """
    return (returns.T @ returns) / returns.shape[0]


def horizon_cov(cov_min: npt.NDArray[np.float64], horizon_min: Vec) -> npt.NDArray[np.float64]:
    """Scale a per-minute covariance to each pair's horizon: S_ij * sqrt(h_i h_j), shape (P, P)."""
    s = np.sqrt(np.maximum(horizon_min, 1.0))
    return cov_min * np.outer(s, s)


def optimise_weights(
    mu: Vec,
    cov: npt.NDArray[np.float64],
    w0: Vec,
    cost: Vec,
    lam: float,
    active: npt.NDArray[np.bool_],
    sweeps: int = 50,
    tol: float = 1e-12,
) -> Vec:
    """Maximise the utility over the ``active`` coordinates, others fixed at ``w0``.

    Parameters
    ----------
    mu : ndarray, shape (P,)
        Signed expected return per pair (fraction over its horizon); ignored where not active.
    cov : ndarray, shape (P, P)
        Covariance of the horizon returns.
    w0 : ndarray, shape (P,)
        Current weights (fraction of equity); the start point and the turnover reference.
    cost : ndarray, shape (P,)
        One-way turnover cost per unit of weight (fraction).
    lam : float
        Risk aversion lambda > 0.
    active : ndarray of bool, shape (P,)
        Coordinates that may move.

    Returns
    -------
    ndarray, shape (P,)
        Optimal weights.
    """
    w = w0.astype(np.float64)  # a copy
    dg = cov.diagonal().tolist()
    idx = [i for i, on in enumerate(active.tolist()) if on and dg[i] > 0.0]
    # Python floats for the scalar steps (the same IEEE operations as numpy scalars, without their
    # overhead); the row products stay numpy's (BLAS) dot, whose summation order a loop would not match.
    m, c, start = mu.tolist(), cost.tolist(), w.tolist()
    rows, diag, cur = [cov[i] for i in idx], [dg[i] for i in idx], list(start)
    for _ in range(sweeps):
        moved = 0.0
        for n, i in enumerate(idx):
            cii = diag[n]
            a = 2.0 * lam * cii
            b = m[i] - 2.0 * lam * (float(rows[n] @ w) - cii * cur[i])
            g = b - a * start[i]
            new = start[i] if abs(g) <= c[i] else (b - c[i] * sign(g)) / a
            moved = max(moved, abs(new - cur[i]))
            w[i] = cur[i] = new
        if moved <= tol:
            break
    return w


def sign(x: float) -> float:
    """``np.sign`` of a float: 1.0, -1.0, 0.0 for either zero, NaN for NaN."""
    return 1.0 if x > 0.0 else -1.0 if x < 0.0 else 0.0 if x == 0.0 else x


def utility(w: Vec, mu: Vec, cov: npt.NDArray[np.float64], w0: Vec, cost: Vec, lam: float) -> float:
    """Return U(w) = mu'w - lambda w'Sw - sum c |w - w0| (for tests and diagnostics)."""
    return float(mu @ w - lam * (w @ cov @ w) - cost @ np.abs(w - w0))
