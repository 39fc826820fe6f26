"""Edge model: conditional distribution of the mean-reversion trade's forward return (sklearn conventions).

Features (columns of ``X``, in :data:`EDGE_FEATURES` order): displacement percentile, volatility state
(``session_vol_norm``), liquidity stress (``spread_widening``) and session id. The three continuous
features are mapped to ``[0, 1]`` by their training quantiles (robust to heavy tails, so one distance
scale fits all) and multiplied by ``feature_weights``; the session is matched exactly (one neighbour
index per session with at least ``min_session_rows`` training rows, the pooled index otherwise).

Two inference paths give the same statistics (:data:`STAT_NAMES`):

* ``inference="exact"``: a KNN/KDE query per row (:class:`NeighbourReturnModel`), batched.
* ``inference="grid"`` (default): at fit time the same estimator is evaluated on a regular grid of the
  quantile space per session; ``predict_stats`` interpolates multilinearly. Millions of rows per
  second, which the streaming DAG needs; the grid-vs-exact gap is tested.
"""

from __future__ import annotations

from itertools import product
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator

from models.conditional import STAT_NAMES, Method, NeighbourReturnModel
from streams.core.units import F64

EDGE_FEATURES: tuple[str, ...] = ("displacement_pct", "session_vol_norm", "spread_widening", "session_id")
"""Feature columns of ``X``, in order (the last is the categorical session id)."""
N_CONTINUOUS = 3
_QUANTILE_LEVELS = np.linspace(0.0, 1.0, 201)


def _quantile_table(x: F64) -> tuple[F64, F64]:
    q = np.quantile(x, _QUANTILE_LEVELS)
    # Ties (a feature stuck at one value) map to the middle of their level range.
    xp, inv = np.unique(q, return_inverse=True)
    fp = np.bincount(inv, weights=_QUANTILE_LEVELS) / np.bincount(inv)
    return xp, fp


class EdgeModel(BaseEstimator):  # type: ignore[misc]
    """KNN/KDE conditional forward-return model; see the module docstring.

    Parameters
    ----------
    method : {"knn", "kde"}
        Neighbour weighting (see :mod:`models.conditional`).
    n_neighbors : int
        Neighbours per query.
    bandwidth : float
        KDE kernel standard deviation in weighted quantile units.
    feature_weights : tuple of 3 floats
        Distance weights of displacement percentile, volatility state, liquidity stress.
    min_session_rows : int
        Training rows a session needs for its own neighbour index.
    alpha : float
        CVaR tail mass (0.05: 5 % CVaR).
    inference : {"grid", "exact"}
        Interpolated table (fast) or a neighbour query per row.
    grid_sizes : tuple of 3 ints
        Grid points per continuous feature (each >= 2).
    horizon_min : int
        Horizon of the training targets, minutes (metadata; checked by the stage).
    batch_size : int
        Rows per neighbour query batch.
    """

    def __init__(
        self,
        method: Method = "knn",
        n_neighbors: int = 300,
        bandwidth: float = 0.03,
        feature_weights: tuple[float, float, float] = (1.0, 0.5, 0.5),
        min_session_rows: int = 2000,
        alpha: float = 0.05,
        inference: str = "grid",
        grid_sizes: tuple[int, int, int] = (61, 9, 9),
        horizon_min: int = 30,
        batch_size: int = 8192,
    ) -> None:
        self.method = method
        self.n_neighbors = n_neighbors
        self.bandwidth = bandwidth
        self.feature_weights = feature_weights
        self.min_session_rows = min_session_rows
        self.alpha = alpha
        self.inference = inference
        self.grid_sizes = grid_sizes
        self.horizon_min = horizon_min
        self.batch_size = batch_size

    def _neighbours(self) -> NeighbourReturnModel:
        return NeighbourReturnModel(
            self.method, self.n_neighbors, self.bandwidth, self.alpha, self.batch_size
        )

    def _scaled(self, X: F64) -> F64:
        u = np.empty((len(X), N_CONTINUOUS))
        for j, (xp, fp) in enumerate(self.quantiles_):
            u[:, j] = np.interp(X[:, j], xp, fp)
        return u * np.asarray(self.feature_weights, dtype=np.float64)

    def fit(self, X: npt.ArrayLike, y: npt.ArrayLike) -> EdgeModel:
        """Fit on features ``X`` (n, 4) and trade returns ``y`` (n,); rows with a NaN are dropped."""
        Xa = np.asarray(X, dtype=np.float64)
        ya = np.asarray(y, dtype=np.float64)
        if Xa.ndim != 2 or Xa.shape[1] != len(EDGE_FEATURES):
            raise ValueError(f"X must have shape (n, {len(EDGE_FEATURES)}) with columns {EDGE_FEATURES}")
        if self.inference not in ("grid", "exact") or min(self.grid_sizes) < 2:
            raise ValueError("inference must be 'grid' or 'exact' and every grid size >= 2")
        ok = np.isfinite(Xa).all(axis=1) & np.isfinite(ya)
        Xa, ya = Xa[ok], ya[ok]
        if len(ya) == 0:
            raise ValueError("no finite training rows")
        self.feature_names_in_ = np.array(EDGE_FEATURES, dtype=object)
        self.n_features_in_ = len(EDGE_FEATURES)
        self.n_train_ = len(ya)
        self.quantiles_ = [_quantile_table(Xa[:, j]) for j in range(N_CONTINUOUS)]
        u = self._scaled(Xa)
        session = Xa[:, N_CONTINUOUS].astype(np.int64)
        ids, counts = np.unique(session, return_counts=True)
        self.sessions_ = ids[counts >= self.min_session_rows]
        self.models_ = [self._neighbours().fit(u[session == s], ya[session == s]) for s in self.sessions_]
        self.models_.append(self._neighbours().fit(u, ya))  # pooled, last
        if self.inference == "grid":
            self.grid_ = self._tabulate()
        return self

    def _grid_points(self) -> F64:
        axes = [np.linspace(0.0, 1.0, g) for g in self.grid_sizes]
        pts = np.array(list(product(*axes)), dtype=np.float64)
        return pts * np.asarray(self.feature_weights, dtype=np.float64)

    def _tabulate(self) -> F64:
        pts = self._grid_points()
        tables = [m.stats(pts).reshape(*self.grid_sizes, len(STAT_NAMES)) for m in self.models_]
        return np.stack(tables)

    def _session_index(self, session: F64) -> npt.NDArray[np.int64]:
        s = np.nan_to_num(session, nan=-1.0).astype(np.int64)
        n = len(self.sessions_)
        if n == 0:
            return np.zeros(len(s), dtype=np.int64)
        pos = np.clip(np.searchsorted(self.sessions_, s), 0, n - 1)
        return np.where(self.sessions_[pos] == s, pos, n).astype(np.int64)

    def _interpolate(self, sidx: npt.NDArray[np.int64], u01: F64) -> F64:
        sizes = np.asarray(self.grid_sizes, dtype=np.int64)
        pos = np.clip(u01, 0.0, 1.0) * (sizes - 1)
        i0 = np.minimum(np.floor(pos).astype(np.int64), sizes - 2)
        frac = pos - i0
        strides = np.array([sizes[1] * sizes[2], sizes[2], 1], dtype=np.int64)
        flat = self.grid_.reshape(-1, len(STAT_NAMES))
        base = np.asarray(sidx * int(np.prod(sizes)) + i0 @ strides, dtype=np.int64)
        out = np.zeros((len(u01), len(STAT_NAMES)))
        # per-axis weights (1 - frac, frac) once; each corner's weight is their product in axis order,
        # as np.prod over the axis would take it (same rounding)
        sides = [(1.0 - frac[:, j], frac[:, j]) for j in range(N_CONTINUOUS)]
        for corner in product((0, 1), repeat=N_CONTINUOUS):
            w = sides[0][corner[0]]
            for j in range(1, N_CONTINUOUS):
                w = np.multiply(w, sides[j][corner[j]])
            out += w[:, None] * flat.take(base + int(np.asarray(corner) @ strides), axis=0)
        return out

    def predict_stats(self, X: npt.ArrayLike) -> F64:
        """Conditional statistics per row.

        Parameters
        ----------
        X : array-like, shape (m, 4)
            Features in :data:`EDGE_FEATURES` order.

        Returns
        -------
        ndarray, shape (m, 4)
            ``expected_return`` (fractional), ``win_prob`` (0..1), ``cvar`` (fractional, negative =
            loss) and ``n_eff`` per row; all ``NaN`` where a feature is ``NaN``.
        """
        Xa = np.asarray(X, dtype=np.float64)
        out = np.full((len(Xa), len(STAT_NAMES)), np.nan)
        ok = np.isfinite(Xa).all(axis=1)
        if not ok.any():
            return out
        Xo = Xa[ok]
        sidx = self._session_index(Xo[:, N_CONTINUOUS])
        u = self._scaled(Xo)
        if self.inference == "grid":
            w = np.asarray(self.feature_weights, dtype=np.float64)
            u01 = np.divide(u, w, out=np.zeros_like(u), where=w > 0)
            out[ok] = self._interpolate(sidx, u01)
            return out
        res = np.empty((len(Xo), len(STAT_NAMES)))
        for i in np.unique(sidx):
            rows = sidx == i
            res[rows] = self.models_[i].stats(u[rows])
        out[ok] = res
        return out

    def neighbour_outcomes(self, X: F64, k: int) -> tuple[F64, F64]:
        """Distances and outcomes of the ``k`` nearest training rows (session-matched as in prediction).

        Rows must be finite; returns two arrays of shape (m, k') with ``k' = min(k, smallest index)``.
        """
        sidx = self._session_index(X[:, N_CONTINUOUS])
        u = self._scaled(X)
        kk = min([k, *(len(m._y) for m in self.models_)])
        dist, ys = np.empty((len(X), kk)), np.empty((len(X), kk))
        for i in np.unique(sidx):
            rows = sidx == i
            dist[rows], ys[rows] = self.models_[i].neighbours(u[rows], kk)
        return dist, ys

    def predict(self, X: npt.ArrayLike) -> F64:
        """Expected forward trade return per row, shape (m,), fractional log-return."""
        return self.predict_stats(X)[:, 0]

    def metadata(self) -> dict[str, Any]:
        """Hyperparameters and training summary for the artifact's JSON metadata."""
        return {
            "params": {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.get_params().items()},
            "n_train": int(self.n_train_),
            "sessions": [int(s) for s in self.sessions_],
            "stats": list(STAT_NAMES),
        }
