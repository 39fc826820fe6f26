"""Fit and evaluate the edge model on a features window (pure: arrays in, model and report out).

The window is split by time: the first ``1 - holdout`` share of minutes trains, the rest evaluates.
Targets are computed inside each part separately, so a training target never uses a bar of the
evaluation part (the last ``horizon_min`` minutes of each part are purged) and nothing looks past the
window's end.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import spearmanr

from models.edge import EDGE_FEATURES, EdgeModel
from streams.core.batch import Batch
from streams.core.units import F64
from streams.stages.edge.stage import EdgeConfig
from streams.stages.edge.targets import forward_trade_returns


def training_arrays(features: Batch, horizon_min: int, only_ready: bool = True) -> tuple[F64, F64]:
    """Model inputs and trade-return targets of the rows of ``features`` (one window, any pairs).

    Returns
    -------
    X : ndarray, shape (n, 4)
        :data:`models.edge.EDGE_FEATURES` columns.
    y : ndarray, shape (n,)
        Forward trade return over ``horizon_min`` (``NaN``: no exit bar in the window, or not ready
        when ``only_ready``).
    """
    X = np.stack([np.asarray(features[k], dtype=np.float64) for k in EDGE_FEATURES], axis=1)
    y = forward_trade_returns(
        features["pair"], features["ts"], features["mid"], features["displacement"], horizon_min
    )
    if only_ready:
        y = np.where(np.asarray(features["ready"], dtype=bool), y, np.nan)
    return X, y


def _cvar_ratio(cvar: F64, r: F64, bins: int = 5) -> float:
    edges = np.quantile(cvar, np.linspace(0, 1, bins + 1)[1:-1])
    which = np.searchsorted(edges, cvar)
    ratios = []
    for b in range(bins):
        rb = np.sort(r[which == b])
        if len(rb) >= 20:
            ratios.append(rb[: max(1, int(0.05 * len(rb)))].mean() / cvar[which == b].mean())
    return float(np.mean(ratios)) if ratios else float("nan")


def evaluate(stats: F64, y: F64) -> dict[str, float]:
    """Out-of-sample quality of predicted statistics ``stats`` (n, 4) against realised returns ``y`` (n,).

    Returns ``ic`` (Spearman of expected_return vs realised), ``brier`` of win_prob and the Brier
    score of the constant hit rate (``brier_baseline``), ``cvar_ratio`` (per predicted-CVaR quintile,
    realised mean of the worst 5 % over the mean predicted CVaR, averaged: near 1 when the tail is
    calibrated, above 1 when it is deeper than predicted), the mean
    realised return of the top expected-return decile and of all rows, and ``n``.
    """
    ok = np.isfinite(y) & np.isfinite(stats).all(axis=1)
    er, wp, cvar = stats[ok, 0], stats[ok, 1], stats[ok, 2]
    r = y[ok]
    if len(r) < 20:
        return {"n": float(len(r))}
    win = (r > 0).astype(np.float64)
    top = er >= np.quantile(er, 0.9)
    return {
        "n": float(len(r)),
        "ic": float(spearmanr(er, r).statistic),
        "brier": float(np.mean((wp - win) ** 2)),
        "brier_baseline": float(np.mean((win.mean() - win) ** 2)),
        "cvar_ratio": _cvar_ratio(cvar, r),
        "mean_return_top_decile": float(r[top].mean()),
        "mean_return_all": float(r.mean()),
    }


def model_from_config(cfg: EdgeConfig, **overrides: Any) -> EdgeModel:
    """An unfitted :class:`EdgeModel` with the training settings of ``cfg`` (``overrides`` win)."""
    params: dict[str, Any] = {
        "method": cfg.method,
        "n_neighbors": cfg.n_neighbors,
        "bandwidth": cfg.bandwidth,
        "feature_weights": tuple(cfg.feature_weights),
        "min_session_rows": cfg.min_session_rows,
        "horizon_min": cfg.horizon_min,
    }
    return EdgeModel(**{**params, **overrides})


def train_edge(
    features: Batch, cfg: EdgeConfig, holdout: float = 0.2, **overrides: Any
) -> tuple[EdgeModel, dict[str, Any]]:
    """Fit on the first ``1 - holdout`` of the window's time span; evaluate on the rest.

    Returns
    -------
    (EdgeModel, dict)
        The model fitted on the training part and a report: ``training_from`` / ``training_to``
        (ms), ``n_train``, ``n_test``, and the :func:`evaluate` metrics under ``test``.
    """
    ts = np.asarray(features["ts"], dtype=np.int64)
    split = int(ts.min() + (1.0 - holdout) * (ts.max() - ts.min())) if holdout > 0 else int(ts.max()) + 1
    train, test = features.take(ts < split), features.take(ts >= split)
    X, y = training_arrays(train, cfg.horizon_min, cfg.train_only_ready)
    model = model_from_config(cfg, **overrides).fit(X, y)
    report: dict[str, Any] = {
        "training_from": int(train["ts"].min()),
        "training_to": int(train["ts"].max()),
        "n_train": int(model.n_train_),
        "features": list(EDGE_FEATURES),
        "X_train": X,
        "y_train": y,
    }
    if test.n:
        Xt, yt = training_arrays(test, cfg.horizon_min, cfg.train_only_ready)
        report["test"] = evaluate(model.predict_stats(Xt), yt)
        report["n_test"] = int(np.isfinite(yt).sum())
    return model, report
