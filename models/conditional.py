"""Non-parametric conditional distribution of a trade's forward return: KNN and KDE behind one interface.

Given training states ``u`` (already scaled so that Euclidean distance is meaningful) and outcomes ``y``
(the mean-reversion trade's forward return), :class:`NeighbourReturnModel` estimates, for a query
state, the conditional distribution of ``y`` from the training rows nearest to it:

* ``method="knn"``: the ``n_neighbors`` nearest rows, equal weights; ``n_eff`` = number of neighbours.
* ``method="kde"``: the ``n_neighbors`` nearest rows weighted by a Gaussian kernel of bandwidth
  ``bandwidth`` (a truncated Nadaraya-Watson estimator); ``n_eff`` = Kish effective sample size
  ``(sum w)^2 / sum w^2``.

Both return the same four statistics per query (see :data:`STAT_NAMES`). The search is sklearn's
``KDTree``, queried in batches so memory stays bounded.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from sklearn.neighbors import KDTree

from streams.core.units import F64

Method = Literal["knn", "kde"]
STAT_NAMES: tuple[str, ...] = ("expected_return", "win_prob", "cvar", "n_eff")
"""Columns of the statistics array, in order."""


def weighted_outcome_stats(y: F64, w: F64, alpha: float) -> F64:
    """Summarise weighted neighbour outcomes row by row.

    Parameters
    ----------
    y : ndarray, shape (n, k)
        Neighbour outcomes (fractional trade returns).
    w : ndarray, shape (n, k)
        Non-negative weights; each row needs a positive sum.
    alpha : float
        Tail mass of the CVaR, e.g. 0.05.

    Returns
    -------
    ndarray, shape (n, 4)
        Weighted mean, weighted share of outcomes > 0, CVaR (weighted mean of the worst ``alpha``
        probability mass, the boundary outcome counted fractionally) and Kish ``n_eff``.
    """
    w = w / w.sum(axis=1, keepdims=True)
    mean = (w * y).sum(axis=1)
    win = (w * (y > 0)).sum(axis=1)
    order = np.argsort(y, axis=1, kind="stable")
    ys = np.take_along_axis(y, order, axis=1)
    ws = np.take_along_axis(w, order, axis=1)
    before = np.cumsum(ws, axis=1) - ws
    # Mass of each sorted outcome that falls inside the worst-alpha tail.
    tail = np.clip(alpha - before, 0.0, ws)
    cvar = (tail * ys).sum(axis=1) / alpha
    n_eff = 1.0 / (w * w).sum(axis=1)
    return np.stack([mean, win, cvar, n_eff], axis=1)


class NeighbourReturnModel:
    """KNN / KDE estimate of the conditional outcome distribution (see the module docstring).

    Parameters
    ----------
    method : {"knn", "kde"}
        Equal weights over the nearest neighbours, or Gaussian kernel weights over them.
    n_neighbors : int
        Neighbours used per query (capped at the number of training rows).
    bandwidth : float
        Kernel standard deviation in the units of ``u`` (``kde`` only).
    alpha : float
        CVaR tail mass.
    batch_size : int
        Queries per KDTree call (bounds memory at ``batch_size * n_neighbors`` floats).
    """

    def __init__(
        self,
        method: Method = "knn",
        n_neighbors: int = 300,
        bandwidth: float = 0.05,
        alpha: float = 0.05,
        batch_size: int = 8192,
    ) -> None:
        if method not in ("knn", "kde"):
            raise ValueError(f"method must be 'knn' or 'kde', got {method!r}")
        self.method = method
        self.n_neighbors = n_neighbors
        self.bandwidth = bandwidth
        self.alpha = alpha
        self.batch_size = batch_size
        self._tree: KDTree | None = None
        self._y: F64 = np.zeros(0)

    def fit(self, u: F64, y: F64) -> NeighbourReturnModel:
        """Index training states ``u`` (n, d) and their outcomes ``y`` (n,); rows must be finite."""
        if len(u) == 0:
            raise ValueError("no training rows")
        self._tree = KDTree(np.ascontiguousarray(u, dtype=np.float64))
        self._y = np.asarray(y, dtype=np.float64)
        return self

    def neighbours(self, u: F64, k: int) -> tuple[F64, F64]:
        """Distances and outcomes of the ``k`` nearest training rows of each query, nearest first (m, k)."""
        if self._tree is None:
            raise RuntimeError("fit() first")
        dist, idx = self._tree.query(np.ascontiguousarray(u, dtype=np.float64), k=min(k, len(self._y)))
        return dist, self._y[idx]

    def stats(self, u: F64) -> F64:
        """Statistics (:data:`STAT_NAMES`) for query states ``u`` (m, d); returns shape (m, 4)."""
        if self._tree is None:
            raise RuntimeError("fit() first")
        out = np.empty((len(u), len(STAT_NAMES)))
        k = min(self.n_neighbors, len(self._y))
        for start in range(0, len(u), self.batch_size):
            q = np.ascontiguousarray(u[start : start + self.batch_size], dtype=np.float64)
            dist, idx = self._tree.query(q, k=k, sort_results=True)
            if self.method == "knn":
                w = np.ones_like(dist)
            else:
                # Shift by the nearest distance so far-away queries keep positive weights (the
                # Gaussian ratio between neighbours is unchanged by the shift).
                d2 = dist**2 - dist[:, :1] ** 2
                w = np.exp(-0.5 * d2 / self.bandwidth**2)
            out[start : start + len(q)] = weighted_outcome_stats(self._y[idx], w, self.alpha)
        return out
